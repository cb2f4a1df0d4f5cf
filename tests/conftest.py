"""Shared fixtures: paths to the bundled real data, and a builder for small crawl roots in tmp folders."""

import gzip
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_crawl"
DATA = Path(__file__).resolve().parent / "data"
SAMPLE_WARC = SAMPLE / "crawl-data"


def sample_file(snapshot: str, name: str) -> Path:
    return SAMPLE_WARC / snapshot / "segments" / "sample" / "warc" / name


def write_crawl(root: Path, snapshot: str, files: dict[str, bytes], listing: bool = True) -> list[str]:
    """Write a Common-Crawl-style snapshot: files under segments/s/warc/ and a warc.paths.gz listing."""
    rels = []
    for name, data in files.items():
        rel = f"crawl-data/{snapshot}/segments/s/warc/{name}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        rels.append(rel)
    if listing:
        (root / f"crawl-data/{snapshot}/warc.paths.gz").write_bytes(gzip.compress(("\n".join(rels) + "\n").encode()))
    return rels


@pytest.fixture
def small_crawl(tmp_path) -> Path:
    """Two snapshots of real sample files (copied), small enough for Dagster end-to-end tests."""
    root = tmp_path / "crawl"
    a = ["cc-main-2024-22.whirlwind.warc.gz", "jwarc-commoncrawl.org.warc.gz", "dolma-wget-2024.sample-0000.warc.gz",
         "CC-MAIN-2024-22-article-extraction-benchmark-00002.warc.gz"]
    b = ["cc-main-2020-34.part-a.warc.gz", "clueweb09-ja-quirk.part-a.warc.gz"]
    write_crawl(root, "CC-MAIN-2024-22", {n: sample_file("CC-MAIN-2024-22", n).read_bytes() for n in a})
    write_crawl(root, "CC-MAIN-2020-34", {n: sample_file("CC-MAIN-2020-34", n).read_bytes() for n in b})
    return root


@pytest.fixture
def copy_sample(tmp_path):
    def _copy() -> Path:
        dst = tmp_path / "sample"
        shutil.copytree(SAMPLE, dst)
        return dst
    return _copy


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for servers the tests start)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc, timeout: float, what: str) -> None:
    """Poll ``url`` until it answers 200; fail with the server's output if ``proc`` exits or time runs out."""
    import time

    import requests

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else "(its output went to a log file)"
            pytest.fail(f"{what} exited: {(out.decode() if isinstance(out, bytes) else out)[-3000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    pytest.fail(f"{what} did not answer within {timeout:.0f} s")


def write_mixture(folder: Path, name: str = "auto") -> Path:
    """A mixture definition that any subset of the sample crawl can produce (crawl and rewrites by source, no
    per-snapshot groups), for tests whose crawl holds other snapshots than mixtures/demo.yaml names."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\nsnapshots: all\nrewrites: true\ngroup_by: [source]\n"
                    "weights: {crawl: 0.95, rewrite: 0.05}\ntotal_tokens: 5000\nshard_tokens: 5000\nseed: 0\n")
    return path


def stop_server(proc) -> None:
    """Stop a server the test started in its own process group (``start_new_session=True``): SIGTERM, then SIGKILL
    after 30 s."""
    import os
    import subprocess

    os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
