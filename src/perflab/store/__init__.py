"""The embedded store: one SQLite file (WAL) holding runs, series, samples, events, artifacts.

Public names: ``Store``, ``BatchWriter``, ``Run``, ``Series``, ``Event``, ``Artifact``,
``default_store_path``, ``canonical_labels``, ``SCHEMA_VERSION``, ``ROLLUP_NS`` (the width of
the per-minute rollups of finished runs).
"""

from perflab.store._models import Artifact, Event, Run, Series, canonical_labels
from perflab.store._rollups import ROLLUP_NS
from perflab.store._schema import SCHEMA_VERSION
from perflab.store._store import Store, default_store_path
from perflab.store._writer import BatchWriter

__all__ = [
    "ROLLUP_NS",
    "SCHEMA_VERSION",
    "Artifact",
    "BatchWriter",
    "Event",
    "Run",
    "Series",
    "Store",
    "canonical_labels",
    "default_store_path",
]
