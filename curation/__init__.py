"""Pure processing code for the curation pipeline: no Dagster imports here.

Everything in this package takes and returns plain records or Arrow tables, so the
unit tests and the benchmarks call it directly and the Dagster assets stay thin.
"""

__version__ = "0.1.0"
