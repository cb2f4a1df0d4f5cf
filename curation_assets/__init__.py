"""Dagster assets of the curation pipeline: thin wrappers that take a partition key, call the pure code
in :mod:`curation`, write one shard and report what happened as materialisation metadata."""
