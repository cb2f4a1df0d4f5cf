#!/usr/bin/env bash
# Install the project with its test extras and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
. .venv/bin/activate
exec python -m pytest -q "$@"
