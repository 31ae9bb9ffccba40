"""PromQL over the store: every series of every run, as one Prometheus TSDB would hold them.

``StoreQueryable(store).select(matchers, mint, maxt)`` resolves the ``__name__`` matchers
against the catalog of stored names (cached until a series or run is added), reads the
candidate series of the runs that overlap the window, keeps those whose labels match, and
reads their samples in one pass.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from perflab.metrics._ast import Matcher
from perflab.metrics._labels import NAME, Labels, from_dict
from perflab.metrics._names import RUN_LABEL, prometheus_name
from perflab.metrics._values import RawSeries
from perflab.store import (
    MetricSeries,
    Store,
    metric_arrays,
    metric_names,
    metric_series,
    metrics_generation,
)

_MS = 1_000_000


@dataclass(slots=True)
class _Catalog:
    generation: tuple[int, int, int]
    by_prom_name: dict[str, list[str]]  # Prometheus name -> stored names


_CATALOGS: dict[str, _Catalog] = {}  # by store path: shared by the hub's request threads
_LOCK = threading.Lock()


def series_labels(s: MetricSeries) -> Labels:
    """A stored series' labels as PromQL sees them: its name, labels and run."""
    labels = dict(s.labels)
    if RUN_LABEL in labels:
        labels["exported_" + RUN_LABEL] = labels[RUN_LABEL]
    labels[NAME] = prometheus_name(s.name, s.unit)
    labels[RUN_LABEL] = str(s.run_id)
    return from_dict(labels)


class StoreQueryable:
    def __init__(self, store: Store) -> None:
        self.store = store

    def catalog(self) -> dict[str, list[str]]:
        generation = metrics_generation(self.store)
        key = str(self.store.path)
        with _LOCK:
            cached = _CATALOGS.get(key)
            if cached is not None and cached.generation == generation:
                return cached.by_prom_name
        by_prom: dict[str, list[str]] = {}
        for name, unit in metric_names(self.store):
            by_prom.setdefault(prometheus_name(name, unit), []).append(name)
        with _LOCK:
            _CATALOGS[key] = _Catalog(generation, by_prom)
        return by_prom

    def names(self) -> list[str]:
        return sorted(self.catalog())

    def find_series(self, matchers: Sequence[Matcher], mint: int | None,
                    maxt: int | None) -> list[tuple[Labels, MetricSeries]]:
        """The series the matchers select whose runs overlap [mint, maxt] (ms; None: any)."""
        name_matchers = [m for m in matchers if m.name == NAME]
        stored_names: list[str] | None = None
        if name_matchers:
            catalog = self.catalog()
            stored_names = [stored for prom, names in catalog.items()
                            if all(m.matches(prom) for m in name_matchers)
                            for stored in names]
            if not stored_names:
                return []
        run_ids = None
        for m in matchers:
            if m.name == RUN_LABEL and m.op == "=":
                run_ids = ([int(m.value)] if m.value.isascii() and m.value.isdigit()
                           and len(m.value) < 19 else [])
        rows = metric_series(self.store, stored_names,
                             start_ns=None if mint is None else mint * _MS,
                             end_ns=None if maxt is None else maxt * _MS, run_ids=run_ids)
        out = []
        for row in rows:
            labels = series_labels(row)
            values = dict(labels)
            if all(m.matches(values.get(m.name, "")) for m in matchers):
                out.append((labels, row))
        return out

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[RawSeries]:
        found = self.find_series(matchers, mint, maxt)
        if not found:
            return []
        samples = metric_arrays(self.store, [row.id for _, row in found], mint * _MS,
                                maxt * _MS)
        out = []
        for labels, row in found:
            got = samples.get(row.id)
            if got is None:
                continue
            times, values = got
            out.append(RawSeries(labels, times // _MS, values))
        out.sort(key=lambda r: r.labels)
        return _merge_same_labels(out)


def _merge_same_labels(series: list[RawSeries]) -> list[RawSeries]:
    """Two stored series can only share labels through a clash of Prometheus names (two
    perflab names spelled alike): their samples are joined, as one TSDB series would be."""
    out: list[RawSeries] = []
    for s in series:
        if out and out[-1].labels == s.labels:
            prev = out.pop()
            ts = np.concatenate((prev.ts, s.ts))
            values = np.concatenate((prev.values, s.values))
            order = np.argsort(ts, kind="stable")
            out.append(RawSeries(s.labels, ts[order], values[order]))
        else:
            out.append(s)
    return out
