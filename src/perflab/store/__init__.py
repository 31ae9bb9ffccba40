"""The embedded store: one SQLite file (WAL) holding runs, series, samples, events, artifacts.

Public names: ``Store``, ``BatchWriter``, ``Run``, ``Series``, ``Event``, ``Artifact``,
``default_store_path``, ``canonical_labels``, ``SCHEMA_VERSION``, ``ROLLUP_NS`` (the width of
the per-minute rollups of finished runs); reading series for charts and tables:
``sample_window`` (peak-keeping downsampling), ``summarize`` / ``Summary``, ``nearest_rank``
(perflab's one definition of a percentile), ``has_rollup``, ``missing_rollups``,
``SampleWindow``, ``MAX_POINTS``, ``DEFAULT_POINTS``; ``run_kinds``, ``runs_generation`` and
``interrupt`` (stop a connection's running query from another thread).
"""

from perflab.store._catalog import interrupt, run_kinds, runs_generation, set_query_deadline
from perflab.store._models import Artifact, Event, Run, Series, canonical_labels
from perflab.store._rollups import ROLLUP_NS
from perflab.store._schema import SCHEMA_VERSION
from perflab.store._store import Store, default_store_path
from perflab.store._windows import (
    DEFAULT_POINTS,
    MAX_POINTS,
    SampleWindow,
    Summary,
    has_rollup,
    missing_rollups,
    nearest_rank,
    sample_window,
    summarize,
)
from perflab.store._writer import BatchWriter

__all__ = [
    "DEFAULT_POINTS",
    "MAX_POINTS",
    "ROLLUP_NS",
    "SCHEMA_VERSION",
    "Artifact",
    "BatchWriter",
    "Event",
    "Run",
    "SampleWindow",
    "Series",
    "Store",
    "Summary",
    "canonical_labels",
    "default_store_path",
    "has_rollup",
    "interrupt",
    "missing_rollups",
    "nearest_rank",
    "run_kinds",
    "runs_generation",
    "sample_window",
    "set_query_deadline",
    "summarize",
]
