"""A mixture's candidates per unit (one crawl snapshot x shard, or one registered corpus), from narrow columns.

Crawl documents are decided from their label tables alone (language, dedup, quality: ids and labels, never the
text) by the keep rules of ``curation.core.keep``; their token counts come from the per-shard ``tokens`` table when
its tokenizer is the mixture's. A mixture with another tokenizer counts its kept documents' tokens on the fly,
one shard at a time (the data card says so); accepted rewrites are counted on the fly too (a few per shard).
Text is read only where a count or a topic needs it, and then only for the kept rows.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from curation.core.keep import LABEL_COLUMNS, SHIPPING_COLUMNS
from curation.mixing.config import CorpusSource, MixtureConfig
from curation.models.tokenizer import count_tokens, load_tokenizer
from curation.mixing.groups import domain_of, group_column
from curation.core.tables import CONTAMINATION_TABLE, DEDUP_TABLE, DOCUMENTS_TABLE, LANGUAGE_TABLE, PII_TABLE, QUALITY_TABLE, \
    REWRITES_TABLE, TOKENS_TABLE

TOKENS = TOKENS_TABLE
CORPORA = "corpora"
SCHEMA = {"id": "String", "source": "String", "snapshot": "String", "language": "String", "quality_bucket": "Int64",
          "cluster_size": "Int64", "tokens": "Int64", "url": "String", "contamination_hits": "Int64",
          "blocklisted": "Boolean"}


@dataclass(frozen=True)
class Unit:
    """One piece of per-partition mixture work: a crawl snapshot x shard, or a whole registered corpus."""

    kind: str  # crawl | corpus
    snapshot: str  # the snapshot, or the corpus name
    shard: str = "all"

    @property
    def key(self) -> str:
        return f"{self.snapshot}-{self.shard}" if self.kind == "crawl" else f"corpus-{self.snapshot}"


def units(config: MixtureConfig, snapshots: list[str], shards: list[str]) -> list[Unit]:
    return [Unit("crawl", s, sh) for s in snapshots for sh in shards] + [Unit("corpus", c.name) for c in config.corpora]


def _frame(df):
    import polars as pl

    return df.select([pl.col(c).cast(getattr(pl, t)) if c in df.columns else pl.lit(None, getattr(pl, t)).alias(c)
                      for c, t in SCHEMA.items()])


def _tokens(store, snapshot: str, shard: str, ids, tokenizer: str | None, tid: str, asset: str = DOCUMENTS_TABLE,
            text_column: str = "text"):
    """(id, tokens) for ``ids``: from the stored table when its tokenizer is ``tid``, else counted on the fly."""
    import polars as pl

    info = store.info(TOKENS, snapshot, shard) if asset == DOCUMENTS_TABLE else None
    if info and info.get("tokenizer") == tid:
        return pl.from_arrow(store.read(TOKENS, snapshot, shard, columns=["id", "tokens"])), False
    import pyarrow.compute as pc
    import pyarrow as pa

    table = store.read(asset, snapshot, shard, columns=["id", text_column],
                       filters=pc.field("id").isin(pa.array(ids, pa.string())))
    texts = table.column(text_column).to_pylist()
    return pl.DataFrame({"id": table.column("id").to_pylist(),
                         "tokens": count_tokens(texts, load_tokenizer(tokenizer)) if texts else []},
                        schema={"id": pl.String, "tokens": pl.Int64}), True


def crawl_candidates(store, unit: Unit, config: MixtureConfig, tid: str, report: Counter):
    """Kept crawl documents (and accepted rewrites) of one shard, with their labels and token counts."""
    import polars as pl

    snap, shard = unit.snapshot, unit.shard
    rules = config.keep_rules()
    read = {t: pl.from_arrow(store.read(t, snap, shard, columns=cols)) for t, cols in LABEL_COLUMNS.items()}
    df = read[LANGUAGE_TABLE].join(read[DEDUP_TABLE], on="id", how="left").join(read[QUALITY_TABLE], on="id",
                                                                                           how="left")
    df = df.join(shipping_labels(store, snap, shard, report), on="id", how="left")
    df = df.with_columns([pl.lit(None, t).alias(c) for c, t in (("contamination_hits", pl.Int64),
                                                                ("blocklisted", pl.Boolean)) if c not in df.columns])
    report[f"dedup:{snap}:documents"] += df.height
    report[f"dedup:{snap}:removed"] += int((~df["keep"].fill_null(True)).sum())
    df = shipping_filter(df, rules, report, f"crawl/{snap}")  # first: a blocklisted page counts as blocklisted
    df = rules.apply(df, report)
    report[f"shipping:crawl/{snap}:contaminated, cut if chosen"] += int(
        (df["contamination_hits"].fill_null(0) > 0).sum()) if rules.contamination == "cut" else 0
    ids = df["id"].to_list()
    toks, counted = _tokens(store, snap, shard, ids, config.tokenizer, tid)
    report["note:tokens counted on the fly"] += len(ids) if counted else 0
    df = df.join(toks, on="id", how="left").with_columns(pl.lit("crawl").alias("source"), pl.lit(snap).alias("snapshot"))
    if "domain" in config.group_by:
        urls = pl.from_arrow(store.read(DOCUMENTS_TABLE, snap, shard, columns=["id", "url"]))
        df = df.join(urls, on="id", how="left")
    frames = [_frame(df)]
    report["source:crawl"] += df.height
    if config.rewrites:
        frames.append(rewrite_candidates(store, snap, shard, config, tid, report))
    return pl.concat(frames)


def shipping_filter(df, rules, report: Counter, where: str):
    """Drop blocklisted and (past the limit) contaminated documents, counted as ``shipping:<where>:<rule>``."""
    for name, cond in rules.shipping_rules():
        ok = cond.fill_null(True)
        report[f"shipping:{where}:{name}"] += int(df.height - df.filter(ok).height)
        df = df.filter(ok)
    return df


def shipping_labels(store, snap: str, shard: str, report: Counter):
    """(id, contamination_hits, blocklisted) of one shard from the contamination and blocklist tables (issue 23);
    a table not materialised for the shard leaves its column null (kept) and is counted (``unlabelled:<table>``)."""
    import polars as pl

    out = pl.DataFrame(schema={"id": pl.String})
    if store.info(PII_TABLE, snap, shard) is None:  # read when the parts are written (redaction); noted here
        report["unlabelled:pii"] += 1
    for table, cols in SHIPPING_COLUMNS.items():
        if store.info(table, snap, shard) is None:
            report[f"unlabelled:{table}"] += 1
            continue
        t = pl.from_arrow(store.read(table, snap, shard, columns=cols))
        t = (t.select("id", pl.col("hits").cast(pl.Int64).alias("contamination_hits")) if table == CONTAMINATION_TABLE
             else t.select("id", (pl.col("blocklists").list.len() > 0).alias("blocklisted")))
        out = t if out.width == 1 else out.join(t, on="id", how="full", coalesce=True)
    return out


def rewrite_candidates(store, snap: str, shard: str, config: MixtureConfig, tid: str, report: Counter):
    """The accepted rewrites of one shard (source "rewrite"); the language rules apply to them as to crawl
    documents, and a shard never rewritten fails naming the asset."""
    import polars as pl

    rules = config.keep_rules()
    rw = pl.from_arrow(store.read(REWRITES_TABLE, snap, shard, columns=["id", "url", "language", "accepted",
                                                                     "quality_bucket"]))
    report["rewrite rejected"] += int((~rw["accepted"]).sum())
    rw = rw.filter(pl.col("accepted"))
    if config.languages:
        rw = rules.apply(rw, report, rules.language_rules()[:1])
    toks, _ = _tokens(store, snap, shard, rw["id"].to_list(), config.tokenizer, tid, asset=REWRITES_TABLE)
    rw = rw.join(toks, on="id", how="left").with_columns(pl.lit("rewrite").alias("source"),
                                                         pl.lit(snap).alias("snapshot"),
                                                         pl.lit(1, dtype=pl.Int64).alias("cluster_size"))
    report["source:rewrite"] += rw.height
    return _frame(rw)


def corpus_candidates(store, corpus: CorpusSource, config: MixtureConfig, tid: str, report: Counter):
    """A registered corpus's rows (language rules applied) with token counts (stored, or counted on the fly)."""
    import polars as pl

    info = store.info(CORPORA, corpus.name, "all")
    if info is None or info.get("path") != corpus.path:
        raise FileNotFoundError(f"corpus {corpus.name} is not registered from {corpus.path}: materialise the "
                                f"corpora asset first")
    cols = ["id", "url", "language"] + (["tokens"] if info.get("tokenizer") == tid else ["text"])
    df = pl.from_arrow(store.read(CORPORA, corpus.name, "all", columns=cols))
    if config.languages:
        df = config.keep_rules().apply(df, report, config.keep_rules().language_rules()[:1])
    if "tokens" not in df.columns:
        df = df.with_columns(pl.Series("tokens", count_tokens(df["text"].to_list(), load_tokenizer(config.tokenizer))))
        report["note:tokens counted on the fly"] += df.height
    report[f"source:{corpus.name}"] += df.height
    return _frame(df.with_columns(pl.lit(corpus.name).alias("source"), pl.lit(1, dtype=pl.Int64).alias("cluster_size")))


def with_groups(df, config: MixtureConfig, topics=None):
    """``df`` with its ``group`` column (and ``domain`` / ``topic`` when grouped by them)."""
    import polars as pl

    if "domain" in config.group_by:
        df = df.with_columns(pl.Series("domain", [domain_of(u) for u in df["url"].to_list()], dtype=pl.String))
    if "topic" in config.group_by:
        df = df.with_columns(pl.Series("topic", topics if topics is not None else [None] * df.height, dtype=pl.String))
    return df.with_columns(group_column(df, config.group_by))


def corpus_rows(source: CorpusSource) -> list[dict]:
    """Rows (id, text, url) of an extra corpus file (JSONL, JSONL.gz or Parquet)."""
    import gzip

    if source.path.endswith(".parquet"):
        import pyarrow.parquet as pq

        rows = pq.read_table(source.path).to_pylist()
    else:
        opener = gzip.open if source.path.endswith(".gz") else open
        with opener(source.path, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    out = []
    for i, r in enumerate(rows):
        text = r.get(source.text_column)
        if not text:
            continue
        rid = str(r.get("id", i))
        out.append({"id": f"{source.name}:{rid}", "text": text, "url": r.get("url"), "source": source.name,
                    "snapshot": None, "language": source.language, "quality_bucket": None, "cluster_size": 1})
    return out
