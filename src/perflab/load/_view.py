"""A stored load test read back for people: summary, percentile spectrum, latency histogram.

What the dashboard's load section, ``perflab report`` and ``GET /api/runs/{id}/load`` show. It
is computed from what ``LoadRecorder`` stored, never from the per-second series: the HDR
histogram artifacts (``kind="histogram"``, names ``latency`` and ``service_time``) and the
test's summary (``meta["summary"]`` of a ``load`` run, or ``kind="load_summary"`` artifacts
when the tests were recorded into another run, as ``perflab demo`` does).

Tests recorded with the same labels (``{endpoint="/work"}``, in several phases) form one
*group*: their histograms merge exactly (HDR counts add), their counts add up.

The spectrum is HdrHistogram's percentile distribution (the ``.hgrm`` ladder): x is
``1/(1-p)``, so 50 % is 2, 99 % is 100, 99.9 % is 1000, drawn on a log axis.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from perflab.load._hdr import Histogram, highest_equivalent
from perflab.load._hgrm import percentile_lines
from perflab.load._result import rounded_ms
from perflab.store import format_labels

if TYPE_CHECKING:
    from perflab.load._contracts import (
        ApiLoadDoc,
        ApiLoadFigures,
        ApiLoadGroup,
        ApiLoadGroupHistogram,
        ApiLoadSpectrum,
        ApiLoadThreshold,
    )
    from perflab.store import Run, Store

SCHEMA: Literal["perflab.api.load/1"] = "perflab.api.load/1"
HISTOGRAM_BINS = 60  # bars of the latency histogram, log-spaced between min and max
_LABEL_KEY = "labels"


@dataclass
class _Group:
    labels: dict[str, str]
    latency: Histogram = field(default_factory=Histogram)
    service: Histogram | None = None
    summaries: list[dict[str, Any]] = field(default_factory=list)


def load_view(store: Store, run: Run) -> ApiLoadDoc | None:
    """The load section's data for a run; None when the run holds no load test."""
    groups: dict[str, _Group] = {}

    def group(attrs: dict[str, Any]) -> _Group:
        raw = attrs.get(_LABEL_KEY) or {}
        labels = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        return groups.setdefault(format_labels(labels), _Group(labels))

    for art in store.artifacts(run.id, kind="histogram"):
        if art.name not in ("latency", "service_time"):
            continue
        h = Histogram.from_dict(json.loads(store.artifact_data(art.id)))
        g = group(art.attrs)
        if art.name == "latency":
            g.latency.merge(h)
        else:
            if g.service is None:
                g.service = Histogram()
            g.service.merge(h)
    for art in store.artifacts(run.id, kind="load_summary"):
        group(art.attrs).summaries.append(json.loads(store.artifact_data(art.id)))
    meta_summary = run.meta.get("summary")
    if isinstance(meta_summary, dict) and "" in groups and not groups[""].summaries:
        groups[""].summaries.append(meta_summary)
    if not groups:
        return None
    return {"schema": SCHEMA, "run_id": run.id,
            "groups": [_group_json(g) for _, g in sorted(groups.items())]}


def _group_json(g: _Group) -> ApiLoadGroup:
    requests = sum(int(s.get("requests", 0)) for s in g.summaries)
    duration = sum(float(s.get("duration_s", 0.0)) for s in g.summaries)
    in_window = sum(float(s.get("rps", 0.0)) * float(s.get("duration_s", 0.0))
                    for s in g.summaries)
    codes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    dropped = 0
    thresholds: list[ApiLoadThreshold] = []
    attempts = failed = 0
    for s in g.summaries:
        codes.update({str(k): int(v) for k, v in (s.get("status_codes") or {}).items()})
        errors.update({str(k): int(v) for k, v in (s.get("errors") or {}).items()})
        dropped += int(s.get("dropped", 0))
        n_err = sum(int(v) for v in (s.get("errors") or {}).values())
        attempts += int(s.get("requests", 0)) + n_err
        failed += round(float(s.get("error_rate", 0.0))
                        * (int(s.get("requests", 0)) + n_err))
        thresholds.extend(_api_threshold(t, s.get("name") or s.get("url"))
                          for t in s.get("thresholds") or [])
    return {
        "labels": g.labels,
        "tests": len(g.summaries),
        "requests": requests if g.summaries else g.latency.total,
        "duration_s": round(duration, 6),
        "rps": round(in_window / duration, 3) if duration > 0 else None,
        "latency_ms": _figures(g.latency),
        "service_time_ms": None if g.service is None else _figures(g.service),
        "status_codes": dict(sorted(codes.items())),
        "errors": dict(sorted(errors.items())),
        "error_rate": failed / attempts if attempts else 0.0,
        "dropped": dropped,
        "thresholds": thresholds,
        "spectrum": {"latency": spectrum(g.latency),
                     "service_time": None if g.service is None else spectrum(g.service)},
        "histogram": histogram_bars(g.latency),
    }


def _api_threshold(t: dict[str, Any], test: str | None) -> ApiLoadThreshold:
    """A threshold's line as the test's summary stored it (``LoadThreshold``: its keys in
    their order), with the test it belongs to."""
    if {"metric", "op", "limit"} <= t.keys():
        return {"threshold": t["threshold"], "metric": t["metric"], "op": t["op"],
                "limit": t["limit"], "actual": t["actual"], "unit": t["unit"],
                "passed": t["passed"], "test": test}
    return {"threshold": t["threshold"], "actual": t["actual"], "unit": t["unit"],
            "passed": t["passed"], "test": test}


def _figures(h: Histogram) -> ApiLoadFigures:
    s = h.summary()
    return {"count": s.count, "min": rounded_ms(s.min_ms), "mean": rounded_ms(s.mean_ms),
            "p50": rounded_ms(s.p50_ms), "p90": rounded_ms(s.p90_ms),
            "p99": rounded_ms(s.p99_ms), "p999": rounded_ms(s.p999_ms),
            "max": rounded_ms(s.max_ms)}


def spectrum(h: Histogram) -> ApiLoadSpectrum:
    """HdrHistogram's percentile ladder: ``percentile`` (0-100), ``x`` = 1/(1-p), value in ms.

    The 100 % line (x infinite) is left out; ``max`` is in the figures beside it.
    """
    pct: list[float] = []
    xs: list[float] = []
    ms: list[float] = []
    for value_us, p, _ in percentile_lines(h):
        if p >= 100.0:
            continue
        pct.append(round(p, 6))
        xs.append(1.0 / (1.0 - p / 100.0))
        ms.append(value_us / 1000.0)
    return {"percentile": pct, "x": xs, "ms": ms}


def histogram_bars(h: Histogram, bins: int = HISTOGRAM_BINS) -> ApiLoadGroupHistogram:
    """The latency distribution as ``bins`` log-spaced bars (counts of requests per bar)."""
    if h.total == 0:
        return {"lower_ms": [], "upper_ms": [], "count": []}
    nz = np.nonzero(h.counts)[0].astype(np.int64)
    values = np.minimum(highest_equivalent(nz), h.max).astype(np.float64)
    lo, hi = max(float(h.min), 1.0), max(float(h.max), 1.0)
    if hi <= lo * 1.0001:
        edges = np.array([lo * 0.95, hi * 1.05])
    else:
        edges = np.geomspace(lo, hi * 1.0001, bins + 1)
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges,
                             weights=h.counts[nz].astype(np.float64))
    return {"lower_ms": [round(float(e) / 1000, 6) for e in edges[:-1]],
            "upper_ms": [round(float(e) / 1000, 6) for e in edges[1:]],
            "count": [int(c) for c in counts]}
