"""``perflab metrics import FILE``: Prometheus text or OpenMetrics with timestamps, into a run.

The file ``promtool tsdb create-blocks-from openmetrics`` reads (OpenMetrics: timestamps in
seconds, ``# EOF`` last) or Prometheus text (timestamps in milliseconds). It is read in
chunks of lines, so a file of any size costs a bounded amount of memory; samples go into one
new run of kind ``import`` named after the file, whose start and end become the first and
last sample's time (so PromQL finds them where they are in time). A sample without a
timestamp is taken at the time of the import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from perflab.errors import InvalidFile
from perflab.metrics._exposition import ExpositionError, parse, split_series
from perflab.store import (
    Store,
    canonical_labels,
    set_run_span,
    write_metric_meta,
    write_metric_samples,
)

CHUNK_LINES = 100_000
# the store keeps nanoseconds in a signed 64-bit integer: year 2262 is the last it can hold
_MAX_TS_NS = 2**63 - 1


@dataclass(frozen=True, slots=True)
class ImportResult:
    run_id: int
    samples: int
    series: int
    first_ns: int
    last_ns: int
    openmetrics: bool


def _is_openmetrics(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 4096))
        tail = f.read().decode("utf-8", errors="replace").rstrip()
    return tail.endswith("# EOF")


def _sample_ns(path: Path, series: str, ts_ms: int, *, openmetrics: bool) -> int:
    """A sample's time in ns, or a clear error where the store's int64 cannot hold it."""
    t = ts_ms * 1_000_000
    if -_MAX_TS_NS <= t <= _MAX_TS_NS:
        return t
    unit = "seconds" if openmetrics else "milliseconds"
    written = ts_ms / 1000 if openmetrics else ts_ms
    raise InvalidFile(f"the timestamp {written:g} of {series} is past the year 2262",
                       path=str(path),
                       hint=f"this file's format ({'OpenMetrics' if openmetrics else 'Prometheus'}"
                            f" text) takes timestamps in {unit}; a file in another unit must"
                            " be converted first")


def import_exposition(store: Store, path: str | Path, *, name: str | None = None,
                      now_ns: int | None = None) -> ImportResult:
    p = Path(path)
    try:
        openmetrics = _is_openmetrics(p)
    except FileNotFoundError:
        raise InvalidFile("no such file", path=str(p)) from None
    except IsADirectoryError:
        raise InvalidFile("is a directory, not a file", path=str(p)) from None
    except PermissionError:
        raise InvalidFile("not allowed to read it", path=str(p)) from None
    now = time.time_ns() if now_ns is None else now_ns
    run = store.create_run("import", name or p.name, meta={"file": str(p.resolve()),
                                                           "format": "openmetrics"
                                                           if openmetrics else "prometheus"})
    keys: dict[str, tuple[str, str]] = {}
    samples = 0
    first = last = None
    base_line = 0
    try:
        with p.open("r", encoding="utf-8", errors="strict") as f:
            while True:
                lines = f.readlines(CHUNK_LINES * 64)
                if not lines:
                    break
                try:
                    page = parse("".join(lines), openmetrics=openmetrics, require_eof=False)
                except ExpositionError as exc:
                    line = None if exc.line is None else exc.line + base_line
                    raise InvalidFile(exc.message.split(": ", 1)[-1], path=str(p),
                                      line=line) from None
                base_line += len(lines)
                items = []
                for series, value, ts in page.samples:
                    key = keys.get(series)
                    if key is None:
                        metric, pairs = split_series(series)
                        key = (metric, canonical_labels(dict(pairs)))
                        keys[series] = key
                    t = now if ts is None else _sample_ns(p, series, ts, openmetrics=openmetrics)
                    first = t if first is None or t < first else first
                    last = t if last is None or t > last else last
                    items.append((run.id, key[0], key[1], t, value))
                if items:
                    write_metric_samples(store, items)
                    samples += len(items)
                meta = [(n, f.type, f.help, f.unit) for n, f in page.families.items()]
                if meta:
                    write_metric_meta(store, meta)
    except UnicodeDecodeError:
        store.delete_run(run.id)
        raise InvalidFile("is not UTF-8 text", path=str(p)) from None
    except BaseException:
        store.delete_run(run.id)  # nothing half-imported stays behind
        raise
    first_ns = first if first is not None else now
    last_ns = last if last is not None else now
    set_run_span(store, run.id, first_ns, last_ns)
    store.finish_run(run.id, "ok", ended_ns=last_ns)
    return ImportResult(run.id, samples, len(set(keys.values())), first_ns, last_ns,
                        openmetrics)
