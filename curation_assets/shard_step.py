"""The skeleton every table-writing asset shares (per shard, per snapshot or global): fingerprint -> skip when up
to date -> compute, time and write -> metadata -> checks.

A per-snapshot or global table is addressed like a shard table, with a fixed key in place of the partition's
(``dedup_clusters``: its snapshot and ``members``; ``quality_annotations``: ``_all`` and ``sample``; ``corpora``: each
corpus and ``all``). Every asset that writes a table goes through ``shard_step``: the seven per-shard assets, the
three label tables, ``dedup_clusters``, ``quality_annotations`` and ``corpora``. Two assets write no table and keep
their own skip logic: ``quality_classifier`` (a model file and its JSON; it skips on its inputs' fingerprint but
its data version is the model's, so a retrain that gives the same model rescores nothing) and the mixtures
(versioned folders published atomically by ``curation.mixing``).

An asset computes its fingerprint (its code version and everything its output depends on, upstream
fingerprints included) and hands it to ``shard_step`` with a ``compute`` function. When the table stored for
the partition carries that fingerprint (and ``fresh()`` agrees, for tables with side files), nothing is
computed: the stored table's ``columns`` are read for the checks. Otherwise ``compute(stored_info)`` returns the
new table and its footer info; the step adds the fingerprint, the row count, the wall and CPU seconds of the
computation, and writes the table (atomically: see ``curation.core.storage``). ``ShardStep.result`` then builds the
materialisation every shard asset reports: the common metadata, the asset's own, the data version (the
fingerprint, so downstream automation sees a change only when the output changed) and the common checks.
"""

import dataclasses
import time
from typing import Callable

import dagster as dg
import pyarrow as pa

from curation_assets.common import base_metadata, check_results


@dataclasses.dataclass
class ShardStep:
    store: object
    asset: str
    snapshot: str
    shard: str
    fingerprint: str
    info: dict  # the footer info: the one just written, or the stored one when up to date
    recomputed: bool
    table: pa.Table  # the table just computed, or the stored table's requested columns
    nbytes: int

    @property
    def url(self) -> str:
        return self.store.url(self.asset, self.snapshot, self.shard)

    def result(self, expected: pa.Schema | None, had_input: bool = True, metadata: dict | None = None,
               checks: list[dg.AssetCheckResult] = ()) -> dg.MaterializeResult:
        """The materialisation: common metadata + ``metadata`` (which may override it), the fingerprint as data
        version, the common checks (schema, non-empty, unique ids; none when ``expected`` is None) + ``checks``."""
        results = list(checks)
        if expected is not None:
            schema = self.table.schema if self.recomputed else self.store.schema(self.asset, self.snapshot, self.shard)
            results = check_results(schema, expected, self.table.column("id"), had_input) + results
        md = base_metadata(self.info, self.url, self.recomputed, self.nbytes)
        md.update(metadata or {})
        return dg.MaterializeResult(metadata=md, data_version=dg.DataVersion(self.fingerprint), check_results=results)


def shard_step(context, store, asset: str, snapshot: str, shard: str, fingerprint: str,
               compute: Callable[[dict | None], tuple[pa.Table, dict]], *, columns: list[str] | None = ("id",),
               force: bool = False, fresh: Callable[[], bool] | None = None) -> ShardStep:
    """Compute and write ``asset``'s table for one partition unless the stored one carries ``fingerprint``.

    ``compute(stored_info)`` gets the stored footer info (None when there is none; an asset can reuse part of
    the stored work, as quality does when only its thresholds changed) and returns ``(table, info)``.
    ``columns``: what to read of an up-to-date table for the checks (None: every column; empty: nothing, for a
    table without checks).
    """
    stored = store.info(asset, snapshot, shard)
    if stored and stored.get("fingerprint") == fingerprint and not force and (fresh is None or fresh()):
        context.log.info(f"{asset} of {snapshot} shard {shard} is up to date (fingerprint {fingerprint[:12]}); "
                         "not recomputed")
        table = (store.read(asset, snapshot, shard, columns=list(columns) if columns is not None else None)
                 if columns is None or len(columns) else None)
        return ShardStep(store, asset, snapshot, shard, fingerprint, stored, False, table,
                         store.size(asset, snapshot, shard))
    t0, c0 = time.perf_counter(), time.process_time()
    table, info = compute(stored)
    # seconds: wall time of the computation; cpu_seconds: CPU time of this process over it (every thread), the
    # figure to compare when the machine is shared or several workers run side by side
    info = {**info, "fingerprint": fingerprint, "rows": table.num_rows,
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
    nbytes = store.write(asset, snapshot, shard, table, info)
    return ShardStep(store, asset, snapshot, shard, fingerprint, info, True, table, nbytes)
