#!/usr/bin/env bash
# Install the project and run the main job on the bundled sample crawl (local files, SQLite Dagster instance).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
. .venv/bin/activate
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/dagster_home}"
exec curation run "$@"
