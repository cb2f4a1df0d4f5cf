#!/usr/bin/env bash
# A separate venv with datatrove (it pins trafilatura 1.x, which the project does not use), for bench/throughput.py.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .dtvenv/bin/python ] || python3 -m venv .dtvenv
.dtvenv/bin/pip install --quiet "datatrove[processing]==0.10.1" warcio faust-cchardet python-magic lxml_html_clean spacy
