#!/usr/bin/env bash
# Install the project with its test extras and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
. .venv/bin/activate
# the layering rules of pyproject.toml [tool.importlinter]: pure code imports no Dagster, stages not each other
lint-imports
exec python -m pytest -q "$@"
