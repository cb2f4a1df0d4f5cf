"""From the definitions' asset graph to work items: one per (assets of a topological level, partition).

The order is the graph's: ``toposorted_asset_keys_by_level``. Within a level, assets with the same partitioning
share a run per partition. A partition is a (snapshot, shard) pair, a snapshot, or nothing (unpartitioned).
An item waits for the items of its parent assets whose partitions overlap its own: a shard waits for the same
shard upstream, a snapshot for all its shards, an unpartitioned asset for everything.
"""

import dataclasses
from collections import defaultdict

# assets that sample what is materialised (the quality classifier draws its negatives from the documents that
# exist): a failed upstream partition shrinks the sample instead of failing them, as long as one succeeded
SAMPLES_WHAT_EXISTS = {"quality_annotations", "quality_classifier"}


@dataclasses.dataclass(frozen=True)
class Item:
    level: int
    assets: tuple[str, ...]
    snapshot: str | None = None
    shard: str | None = None

    @property
    def label(self) -> str:
        where = " ".join(p for p in (self.snapshot, f"shard {self.shard}" if self.shard else None) if p)
        return f"{'+'.join(self.assets)}" + (f" {where}" if where else "")

    def overlaps(self, other: "Item") -> bool:
        """Do the two partitions share data (equal on every dimension both have)?"""
        return all(a is None or b is None or a == b for a, b in ((self.snapshot, other.snapshot),
                                                                 (self.shard, other.shard)))


def _kind(node) -> str:
    import dagster as dg

    p = node.partitions_def
    if p is None:
        return "all"
    if isinstance(p, dg.MultiPartitionsDefinition):
        return "shard"
    return "snapshot"


def _outside(graph, node) -> tuple[str, ...]:
    """The partition kinds, other than its own, that a node's asset definition (all of a multi-asset's outputs
    together) reads from. A level's assets are split by whether they read any: those that read only their own
    partition's upstream join its run (``_fuse``: documents -> language + signatures + tokens), the others (the
    per-shard labels, which also read the global benchmark index; dedup + quality) run together apart."""
    own = _kind(node)
    kinds = {_kind(graph.get(p)) for k in node.assets_def.keys for p in graph.get(k).parent_keys}
    return tuple(sorted(kinds - {own}))


def observable_sources(defs) -> list:
    graph = defs.resolve_asset_graph()
    return sorted(k for k in graph.get_all_asset_keys() if graph.get(k).is_observable)


def build_plan(defs, snapshots: list[str], shards: list[str], skip_groups: set[str] = frozenset()):
    """(items in topological order, upstream item indices of each item)."""
    graph = defs.resolve_asset_graph()
    items, item_of_asset = [], defaultdict(list)
    for level, keys in enumerate(graph.toposorted_asset_keys_by_level):
        by_kind = defaultdict(list)
        for key in sorted(keys):
            node = graph.get(key)
            if not node.is_materializable or node.group_name in skip_groups:
                continue
            by_kind[(_kind(node), bool(_outside(graph, node)))].append(key.to_user_string())
        for (kind, _), assets in sorted(by_kind.items()):
            parts = {"shard": [(s, sh) for s in snapshots for sh in shards], "snapshot": [(s, None) for s in snapshots],
                     "all": [(None, None)]}[kind]
            for snapshot, shard in parts:
                item = Item(level, tuple(assets), snapshot, shard)
                for a in assets:
                    item_of_asset[a].append(len(items))
                items.append(item)
    upstream = []
    for item in items:
        deps = set()
        for a in item.assets:
            for parent in graph.get(_key(a)).parent_keys:
                deps.update(i for i in item_of_asset.get(parent.to_user_string(), ()) if items[i].overlaps(item))
        upstream.append(sorted(deps))
    return _fuse(items, upstream)


def _fuse(items: list[Item], upstream: list[list[int]]):
    """Join an item to the run of its upstream items when all of them are one run of the same partition (the
    shard chain documents -> language + signatures becomes one run): fewer runs, less per-run overhead."""
    unit_of, units = {}, []  # item index -> unit index; unit -> member item indices
    for i, item in enumerate(items):
        ups = {unit_of[d] for d in upstream[i]}
        if len(ups) == 1:
            u = ups.pop()
            head = items[units[u][0]]
            if (head.snapshot, head.shard) == (item.snapshot, item.shard):
                unit_of[i] = u
                units[u].append(i)
                continue
        unit_of[i] = len(units)
        units.append([i])
    fused = [Item(items[m[0]].level, tuple(a for i in m for a in items[i].assets), items[m[0]].snapshot,
                  items[m[0]].shard) for m in units]
    deps = [sorted({unit_of[d] for i in m for d in upstream[i]} - {u}) for u, m in enumerate(units)]
    return fused, deps


def _key(user_string: str):
    import dagster as dg

    return dg.AssetKey.from_user_string(user_string)


def item_pools(defs, items: list[Item]) -> dict[int, str]:
    """The Dagster pool (``pool=`` on the asset, e.g. ``gpu``) of each item that has one."""
    import dagster as dg

    out = {}
    for i, item in enumerate(items):
        pools = {getattr(defs.resolve_assets_def(dg.AssetKey.from_user_string(a)).node_def, "pool", None)
                 for a in item.assets} - {None}  # graph-backed assets (the mixtures) have no pool of their own
        if pools:
            out[i] = sorted(pools)[0]
    return out
