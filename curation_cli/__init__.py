"""The ``curation`` command line: ``curation run`` materialises the asset graph of ``curation_assets`` for a crawl.

Modules: ``main`` (entry point, subcommands, one-line errors), ``options`` (flags -> settings), ``instance``
(the local Dagster instance: lock, stale runs, temporary files), ``plan`` (the asset graph -> partition work
items), ``execute`` (a pool of worker processes runs them), ``summary`` (what the run produced).
"""
