"""What the mixture does with issue 23's labels when it writes a part: cut contaminated spans with a margin and
replace personal data with placeholders (``curation.core.keep``: the rules and ``edit_text``); the blocklisted
and over-contaminated documents are dropped earlier, with the candidates (``source.shipping_filter``)."""

from __future__ import annotations

from curation.mixing.config import MixtureConfig
from curation.mixing.source import Unit
from curation.core.tables import CONTAMINATION_TABLE, PII_TABLE


def _labels_of(store, table: str, unit: Unit, ids, column: str) -> dict:
    import pyarrow.compute as pc

    if store.info(table, unit.snapshot, unit.shard) is None:
        return {}
    t = store.read(table, unit.snapshot, unit.shard, columns=["id", column], filters=pc.field("id").isin(ids))
    return {i: v for i, v in zip(t.column("id").to_pylist(), t.column(column).to_pylist()) if v}


def ship_texts(store, unit: Unit, chosen, config: MixtureConfig):
    """The chosen rows' text with contaminated spans cut (``contamination: cut``, with the margin) and personal
    data of the ``redact_pii`` types replaced by placeholders (``curation.core.keep.edit_text``); returns the rows
    and, per group, the documents cut, the documents redacted and the spans redacted."""
    import polars as pl
    import pyarrow as pa

    from curation.core.keep import PII_PLACEHOLDERS, edit_text

    ids = pa.array(chosen["id"].unique().to_list(), pa.string())
    cuts = _labels_of(store, CONTAMINATION_TABLE, unit, ids, "spans") if config.contamination == "cut" else {}
    pii = _labels_of(store, PII_TABLE, unit, ids, "pii_spans") if config.redact_pii else {}
    placeholders = {t: PII_PLACEHOLDERS[t] for t in config.redact_pii or ()}
    done, stats = {}, {}
    for i, text, g in zip(chosen["id"].to_list(), chosen["text"].to_list(), chosen["group"].to_list()):
        if i in done or (i not in cuts and i not in pii) or text is None:
            continue
        done[i], cut, red = edit_text(text, cuts.get(i), config.contamination_margin, pii.get(i), placeholders)
        s = stats.setdefault(g, {"contamination_cut": 0, "redacted": 0, "pii_spans": 0})
        s["contamination_cut"] += bool(cut)
        s["redacted"] += bool(red)
        s["pii_spans"] += red
    if done:
        chosen = chosen.with_columns(pl.Series("text", [done.get(i, t) for i, t in zip(chosen["id"].to_list(),
                                                                                    chosen["text"].to_list())]))
    return chosen, stats
