"""Scraping Prometheus and OpenMetrics targets, as Prometheus does, into the store.

``ScrapeManager(config, sink)`` runs every target of every ``scrape_configs`` job in one
thread with its own event loop (the hub's loop keeps answering requests). Per target and
interval it:

- GETs the metrics page (``Accept`` preferring OpenMetrics, the timeout as
  ``X-Prometheus-Scrape-Timeout-Seconds``), bounded by ``body_size_limit``;
- parses it, applies ``honor_labels`` and ``metric_relabel_configs`` (cached per series text),
  drops a duplicate series of the same scrape (counted, and said on the targets page);
- writes the samples at the scrape's start time (or their own with ``honor_timestamps``), a
  staleness marker for every series that the previous scrape had and this one lacks (all of
  them when the scrape failed), and ``up``, ``scrape_duration_seconds``,
  ``scrape_samples_scraped``, ``scrape_samples_post_metric_relabeling``,
  ``scrape_series_added``.

Targets come from ``static_configs`` and ``file_sd_configs`` (files re-read every
``refresh_interval`` and when they change), through ``relabel_configs``. ``reload(config)``
swaps the configuration: unchanged targets keep scraping, removed ones get staleness markers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import numpy as np

from perflab.errors import InvalidValue
from perflab.metrics._config import PromConfig, ScrapeConfig, TargetGroup, read_file_sd
from perflab.metrics._exposition import (
    ExpositionError,
    Page,
    is_openmetrics,
    parse,
    split_series,
)
from perflab.metrics._http import FetchError, HttpClient
from perflab.metrics._labels import LABEL_NAME
from perflab.metrics._relabel import relabel
from perflab.metrics._sink import MetricSink, Row
from perflab.store import INT64_MAX, MetricColumns, canonical_labels, stale_nan

if TYPE_CHECKING:
    from perflab.metrics._contracts import TargetHealth

log = logging.getLogger("perflab.scrape")

ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
          "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
_DROPPED = ("", "")  # a cached series that metric_relabel_configs drops
STALE = stale_nan()
MAX_SERIES_CACHE = 200_000  # series texts remembered per target
MAX_MS = INT64_MAX // 1_000_000  # a sample's own time beyond this is not stored
REPORT_SERIES = ("up", "scrape_duration_seconds", "scrape_samples_scraped",
                 "scrape_samples_post_metric_relabeling", "scrape_series_added")


@dataclass(frozen=True, slots=True)
class Target:
    job: str
    url: str
    labels: tuple[tuple[str, str], ...]          # after relabeling (job, instance, ...)
    discovered: tuple[tuple[str, str], ...]      # before relabeling
    config: ScrapeConfig

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return (self.job, self.url, self.labels)


@dataclass(slots=True)
class TargetState:
    target: Target
    health: TargetHealth = "unknown"
    last_error: str = ""
    last_scrape_ns: int = 0
    last_duration_s: float = 0.0
    last_samples: int = 0
    duplicates: int = 0
    series_cache: dict[str, tuple[str, str]] = field(default_factory=dict)
    previous: set[tuple[str, str]] = field(default_factory=set)
    meta_sent: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


def target_labels(cfg: ScrapeConfig, group: TargetGroup,
                  address: str) -> tuple[dict[str, str], dict[str, str]] | None:
    """(labels, discovered labels) of one target, or None when relabeling drops it."""
    discovered = {**group.labels, "__address__": address, "job": cfg.job_name,
                  "__scheme__": cfg.scheme, "__metrics_path__": cfg.metrics_path,
                  "__scrape_interval__": f"{cfg.interval_ms // 1000}s",
                  "__scrape_timeout__": f"{cfg.timeout_ms // 1000}s"}
    for name, values in cfg.params.items():
        if values:
            discovered[f"__param_{name}"] = values[0]
    labels = relabel(discovered, cfg.relabel)
    if labels is None:
        return None
    if "__address__" not in labels:
        return None
    labels.setdefault("instance", labels["__address__"])
    return labels, discovered


def build_targets(cfg: ScrapeConfig, groups: list[TargetGroup]) -> list[Target]:
    out: dict[tuple[str, str, tuple[tuple[str, str], ...]], Target] = {}
    for group in groups:
        for address in group.targets:
            got = target_labels(cfg, group, address)
            if got is None:
                continue
            labels, discovered = got
            params = {k[len("__param_"):]: v for k, v in labels.items()
                      if k.startswith("__param_")}
            query = urlencode(params)
            url = (f"{labels.get('__scheme__', cfg.scheme)}://{labels['__address__']}"
                   f"{labels.get('__metrics_path__', cfg.metrics_path)}"
                   + (f"?{query}" if query else ""))
            public = tuple(sorted((k, v) for k, v in labels.items()
                                  if not k.startswith("__") and v))
            target = Target(cfg.job_name, url, public, tuple(sorted(discovered.items())), cfg)
            out[target.key] = target
    return list(out.values())


async def _fetch_page(client: HttpClient, headers: dict[str, str], cfg: ScrapeConfig) -> Page:
    """The target's page, parsed; ``FetchError`` for a failed scrape (what the targets page
    shows), ``ExpositionError`` for an answer that is not metrics."""
    resp = await client.get(headers, timeout_s=cfg.timeout_ms / 1000, limit=cfg.body_size_limit)
    if resp.status != 200:
        raise FetchError(f"server returned HTTP status {resp.status}")
    content_type = resp.headers.get("content-type", "")
    if content_type.startswith("text/html") or resp.body.lstrip()[:1] == b"<":
        raise FetchError("the target answered HTML, not Prometheus metrics "
                         f"(Content-Type {content_type or 'none'})")
    text = resp.body.decode("utf-8", errors="replace")
    page = parse(text, openmetrics=is_openmetrics(content_type))
    if cfg.sample_limit and len(page.samples) > cfg.sample_limit:
        raise FetchError(f"sample limit exceeded ({len(page.samples)} > {cfg.sample_limit})")
    return page


class ScrapeManager:
    def __init__(self, config: PromConfig, sink: MetricSink, *,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.config = config
        self.sink = sink
        self.clock_ns = clock_ns
        self.states: dict[tuple[str, str, tuple[tuple[str, str], ...]], TargetState] = {}
        self.dropped: list[Target] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._sd_task: asyncio.Task[None] | None = None
        self._sd_mtimes: dict[str, float] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="perflab-scrape", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.call_soon(self._ready.set)
        loop.call_soon(lambda: loop.create_task(self._apply(self.config)))
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            tasks = [s.task for s in self.states.values() if s.task is not None]
            if self._sd_task is not None:
                tasks.append(self._sd_task)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        self._thread.join(10)
        self._thread = None

    def reload(self, config: PromConfig) -> None:
        """Scrape by the new configuration from now on (already validated by the caller)."""
        self.config = config
        loop = self._loop
        if loop is not None:
            fut = asyncio.run_coroutine_threadsafe(self._apply(config), loop)
            fut.result(30)

    def snapshot(self) -> tuple[list[TargetState], list[Target]]:
        """The targets and their health, for the API's /targets (a copy)."""
        with self._lock:
            return list(self.states.values()), list(self.dropped)

    # -- targets ---------------------------------------------------------------------------------

    def discover(self, config: PromConfig) -> tuple[list[Target], list[Target]]:
        active: list[Target] = []
        dropped: list[Target] = []
        for cfg in config.scrape_configs:
            groups = list(cfg.static)
            for sd in cfg.file_sd:
                from perflab.metrics._config import expand_globs  # noqa: PLC0415

                for path in expand_globs(sd.files):
                    try:
                        groups.extend(read_file_sd(path))
                    except (OSError, ValueError, InvalidValue) as exc:
                        log.warning("file_sd %s: %s", path, exc)
            targets = build_targets(cfg, groups)
            active.extend(targets)
            kept = {t.discovered for t in targets}
            for group in groups:
                for address in group.targets:
                    got = target_labels(cfg, group, address)
                    if got is None:
                        discovered = {**group.labels, "__address__": address,
                                      "job": cfg.job_name}
                        d = tuple(sorted(discovered.items()))
                        if d not in kept:
                            dropped.append(Target(cfg.job_name, "", (), d, cfg))
        return active, dropped

    async def _apply(self, config: PromConfig) -> None:
        active, dropped = self.discover(config)
        wanted = {t.key: t for t in active}
        with self._lock:
            self.dropped = dropped
            gone = [k for k in self.states if k not in wanted]
            removed = [self.states.pop(k) for k in gone]
            for key, target in wanted.items():
                if key in self.states and self.states[key].target.config == target.config:
                    continue
                if key in self.states:
                    removed.append(self.states.pop(key))
                state = TargetState(target)
                self.states[key] = state
                state.task = asyncio.get_running_loop().create_task(self._loop_target(state))
        for state in removed:
            if state.task is not None:
                state.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await state.task
            self._mark_gone(state)
        if self._sd_task is None and any(c.file_sd for c in config.scrape_configs):
            self._sd_task = asyncio.get_running_loop().create_task(self._watch_file_sd())

    async def _watch_file_sd(self) -> None:
        """Re-read file_sd files when they change (checked every second) or are due."""
        last_full = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            files = [f for c in self.config.scrape_configs for sd in c.file_sd for f in sd.files]
            refresh = min((sd.refresh_ms for c in self.config.scrape_configs
                           for sd in c.file_sd), default=300_000) / 1000
            from perflab.metrics._config import expand_globs  # noqa: PLC0415

            mtimes = {}
            for path in expand_globs(tuple(files)):
                with contextlib.suppress(OSError):
                    mtimes[path] = os.stat(path).st_mtime  # noqa: PTH116  # ASYNC240 flags pathlib
            if mtimes != self._sd_mtimes or time.monotonic() - last_full > refresh:
                self._sd_mtimes = mtimes
                last_full = time.monotonic()
                await self._apply(self.config)

    def _mark_gone(self, state: TargetState) -> None:
        """A target that left: staleness markers for its series and its report series."""
        ts = self.clock_ns()
        rows: list[Row] = [(name, labels, ts, STALE) for name, labels in state.previous]
        base = dict(state.target.labels)
        rows.extend((name, canonical_labels(base), ts, STALE) for name in REPORT_SERIES)
        self.sink.submit(rows)

    # -- scraping ------------------------------------------------------------------------------

    async def _loop_target(self, state: TargetState) -> None:
        target = state.target
        cfg = target.config
        interval = cfg.interval_ms / 1000
        # a fixed offset per target within the interval, as Prometheus spreads its scrapes
        digest = hashlib.sha256(repr(target.key).encode()).digest()
        offset = int.from_bytes(digest[:8], "big") % max(1, cfg.interval_ms) / 1000
        now = time.time()
        next_at = now - (now % interval) + offset
        if next_at < now:
            next_at += interval
        client = HttpClient(target.url, insecure=False)
        headers = {"Accept": ACCEPT,
                   "X-Prometheus-Scrape-Timeout-Seconds": f"{cfg.timeout_ms / 1000:g}"}
        auth = cfg.auth.header()
        if auth:
            headers["Authorization"] = auth
        try:
            while True:
                await asyncio.sleep(max(0.0, next_at - time.time()))
                await self.scrape_once(state, client, headers)
                next_at += interval
                while next_at < time.time():  # a scrape longer than the interval skips ticks
                    next_at += interval
        finally:
            await client.close()

    async def scrape_once(self, state: TargetState, client: HttpClient,
                          headers: dict[str, str]) -> None:
        cfg = state.target.config
        start_ns = self.clock_ns()
        ts_ns = start_ns - start_ns % 1_000_000  # Prometheus stores milliseconds
        t0 = time.perf_counter()
        error = ""
        page = None
        try:
            page = await _fetch_page(client, headers, cfg)
        except FetchError as exc:
            error = str(exc)
        except ExpositionError as exc:
            error = f"the answer is not Prometheus metrics: {exc.message}"
        duration = time.perf_counter() - t0
        keys: list[tuple[str, str]] = []
        values: list[float] = []
        times: list[int | None] | None = None
        current: set[tuple[str, str]] = set()
        scraped = kept = added = 0
        if page is not None and not error:
            keys, values, times, current, scraped = self._samples(state, page)
            kept = len(keys)
            added = len(current - state.previous)
        gone = state.previous - current
        keys.extend(gone)
        values.extend([STALE] * len(gone))
        base = canonical_labels(dict(state.target.labels))
        keys.extend((name, base) for name in REPORT_SERIES)
        values.extend([0.0 if error else 1.0, duration, float(scraped), float(kept),
                       float(added)])
        n = len(keys)
        stamps = np.full(n, ts_ns, dtype=np.int64)
        if times is not None:  # honor_timestamps, and the page had some
            stamps[:len(times)] = [ts_ns if t is None else t * 1_000_000 for t in times]
        batch = MetricColumns(self.sink.run_id, keys, np.ones(n, dtype=np.int64), stamps,
                              np.array(values, dtype=np.float64))
        if not self.sink.submit_columns(batch):
            error = error or "the store is behind: this scrape was not stored (queue full)"
            log.warning("scrape %s: %s", state.target.url, error)
        else:
            state.previous = current
        if page is not None and not error:
            self._meta(state, page.families)
        with self._lock:
            state.health = "down" if error else "up"
            state.last_error = error
            state.last_scrape_ns = start_ns
            state.last_duration_s = duration
            state.last_samples = scraped

    def _samples(self, state: TargetState, page: Page,
                 ) -> tuple[list[tuple[str, str]], list[float], list[int | None] | None,
                            set[tuple[str, str]], int]:
        """(series, values, their own times with honor_timestamps (else None), the series
        as a set, samples on the page)."""
        cache = state.series_cache
        if len(cache) > MAX_SERIES_CACHE:
            cache.clear()
        keys: list[tuple[str, str]] = []
        values: list[float] = []
        times: list[int | None] = []
        seen: set[tuple[str, str]] = set()
        duplicates = 0
        honor = state.target.config.honor_timestamps
        for series, value, ts in page.samples:
            key = cache.get(series)
            if key is None:
                key = self._prepare(state, series)
                cache[series] = key
            if key is _DROPPED or (honor and ts is not None and not -MAX_MS <= ts <= MAX_MS):
                continue  # dropped by relabeling, or a time a store cannot hold
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            keys.append(key)
            values.append(value)
            times.append(ts)
        if duplicates:
            state.duplicates += duplicates
            log.warning("scrape %s: %d duplicate series in one answer, dropped",
                        state.target.url, duplicates)
        own = honor and any(t is not None for t in times)
        return keys, values, times if own else None, seen, len(page.samples)

    def _prepare(self, state: TargetState, series: str) -> tuple[str, str]:
        """(name, labels JSON) of a series text after honor_labels and metric relabeling;
        ``_DROPPED`` when dropped."""
        try:
            name, pairs = split_series(series)
        except ExpositionError:
            return _DROPPED
        scraped: dict[str, str] = {}
        for k, v in pairs:
            if k in scraped or not LABEL_NAME.match(k):
                return _DROPPED
            scraped[k] = v
        target = dict(state.target.labels)
        cfg = state.target.config
        if cfg.honor_labels:
            labels = {**target, **scraped}
        else:
            labels = dict(scraped)
            for k, v in target.items():
                if k in labels:
                    exported = f"exported_{k}"
                    while exported in labels:
                        exported = f"exported_{exported}"
                    labels[exported] = labels[k]
                labels[k] = v
        labels["__name__"] = name
        if cfg.metric_relabel:
            relabeled = relabel(labels, cfg.metric_relabel)
            if relabeled is None or "__name__" not in relabeled:
                return _DROPPED
            labels = relabeled
        metric = labels.pop("__name__")
        return metric, canonical_labels({k: v for k, v in labels.items() if v})

    def _meta(self, state: TargetState, families: Mapping[str, object]) -> None:
        items = []
        for name, fam in families.items():
            t = (getattr(fam, "type", "unknown"), getattr(fam, "help", ""),
                 getattr(fam, "unit", ""))
            if state.meta_sent.get(name) != t:
                state.meta_sent[name] = t
                items.append((name, *t))
        if items:
            self.sink.submit_meta(items)
