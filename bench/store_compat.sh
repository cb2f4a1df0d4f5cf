#!/usr/bin/env bash
# Does a store built by commit OLD read as up to date under commit NEW? (issue 22: moving code changes no
# fingerprint.) Both commits run `curation run` (the demo: sample crawl, every stage, the demo mixture) in ONE
# folder, so paths and file times are the same for both (corpora fingerprints hold their files' path and mtime).
#   bench/store_compat.sh OLD [NEW]      (NEW defaults to HEAD; prints both summaries' first lines)
set -euo pipefail
cd "$(dirname "$0")/.."
old="${1:?usage: bench/store_compat.sh OLD [NEW]}"
new="${2:-HEAD}"
py="$PWD/.venv/bin/python"
work="$(mktemp -d /tmp/store-compat-XXXX)"
git worktree add --detach "$work/tree" "$old" >/dev/null
run() { (cd "$work/tree" && PYTHONPATH="$work/tree" "$py" -m curation_cli run --output "$work/out" \
         --dagster-home "$work/home") > "$work/$1.log" 2>&1; }
run old
git -C "$work/tree" checkout -q --detach "$new"
run new
for s in old new; do
  echo "== $s ($(git -C "$work/tree" rev-parse --short "$( [ $s = old ] && echo "$old" || echo "$new")"))"
  grep -E "shards recomputed|mixture .*\(v" "$work/$s.log" | sed 's/^ *//'
done
git worktree remove --force "$work/tree"
