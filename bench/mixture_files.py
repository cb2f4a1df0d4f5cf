"""What reading a mixture file costs: a 10 MB file asked about N times in one process (the CLI check, the
definitions load, the plan, every write op and the publish op each ask), and a 1 KB YAML anchor bomb.

Run it against this tree and against a worktree of an older commit in the same session (the machine is shared, so
compare ratios of one run, not figures across runs)::

    python bench/mixture_files.py --calls 20 --out docs/mixture_files.json
    python bench/mixture_files.py --root /tmp/base-wt --calls 2 --out /tmp/base.json

Each measurement runs in a child process (CPU seconds and peak RSS of that child); the bomb's child runs under a
2 GiB address-space cap, so a loader that expands it fails with MemoryError instead of taking the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
sys.path.insert(0, sys.argv[1])
from curation.mixing.check import load_mixture, validate_mixture_file
path, calls = sys.argv[2], int(sys.argv[3])
t0, errors = time.process_time(), None
try:
    for _ in range(calls):
        errors = validate_mixture_file(path)
        if not errors:
            load_mixture(path)
    outcome = f"{len(errors)} error(s): {errors[0][:160]}" if errors else "valid"
except MemoryError:
    outcome = "MemoryError at the 2 GiB cap"
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))  # not the parent's
print(json.dumps({"cpu_s": round(time.process_time() - t0, 2), "peak_rss_mb": hwm // 1024, "outcome": outcome}))
"""


def big_file(path: str, size: int = 10_000_000) -> int:
    """A valid mixture grouped by domain with one weight per domain, ``size`` bytes."""
    parts, n, i = ["name: big\nrewrites: false\ngroup_by: [domain]\nweights:\n"], 0, 0
    while n < size:
        line = f"  site{i}.example.com: 0.{i % 97 + 1}\n"
        parts.append(line)
        n, i = n + len(line), i + 1
    with open(path, "w") as fh:
        fh.write("".join(parts))
    return i


def bomb_file(path: str, levels: int = 9) -> None:
    items = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    items += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    with open(path, "w") as fh:
        fh.write("name: x\ngroup_by: [source, snapshot]\nweights: {crawl/CC-MAIN-2024-22: 1}\nsnapshots:\n"
                 + "".join(f"  - {item}\n" for item in items))


def measure(root: str, path: str, calls: int, timeout: int) -> dict:
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-c", CHILD, root, path, str(calls)], capture_output=True, text=True,
                           timeout=timeout, check=False)
        out = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else \
            {"outcome": f"exit {p.returncode}: {p.stderr.strip().splitlines()[-1][:160] if p.stderr.strip() else ''}"}
    except subprocess.TimeoutExpired:
        out = {"outcome": f"still running after {timeout} s (killed)"}
    return {**out, "wall_s": round(time.perf_counter() - t0, 2), "calls": calls}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big, bomb = os.path.join(tmp, "big.yaml"), os.path.join(tmp, "bomb.yaml")
        weights = big_file(big)
        bomb_file(bomb)
        res = {"root": args.root, "date": time.strftime("%Y-%m-%d"), "machine": "shared 2-core VM",
               "big_file": {"bytes": os.path.getsize(big), "weights": weights,
                            **measure(args.root, big, args.calls, args.timeout)},
               "anchor_bomb": {"bytes": os.path.getsize(bomb), **measure(args.root, bomb, 1, args.timeout)}}
    print(json.dumps(res, indent=1))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
