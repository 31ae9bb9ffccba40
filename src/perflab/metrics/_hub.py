"""What ``perflab serve`` runs for metrics: one object the web app creates, starts and stops.

``MetricsHub`` owns the sink into the store (through the hub's one ``IngestQueue``), the
scrape manager, the hub's own node_exporter families, the rule groups and the notifier. The
web app mounts ``perflab.metrics.ROUTES`` (the Prometheus HTTP API, the receivers, the pages);
their handlers find the hub at ``request.app.state.metrics``.

Samples land in the hub's recording run when it records, else in a run of kind ``metrics``
that the hub creates on the first write and ends when it stops. ``reload()`` (SIGHUP,
``POST /-/reload``) re-reads the configuration and rule files; a bad file is refused whole
and the running configuration stays.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from perflab.errors import InvalidValue, StoreError
from perflab.metrics._config import PromConfig, load_config
from perflab.metrics._inhibit import NotifyConfig, load_notify_config
from perflab.metrics._node import NodeScraper
from perflab.metrics._otlp_receive import OtlpMetricsReceiver
from perflab.metrics._scrape import ScrapeManager
from perflab.metrics._sink import MetricSink, register_kinds
from perflab.metrics._slo import SLO, generate_rules, load_slo
from perflab.store import IngestQueue, Store

log = logging.getLogger("perflab.metrics")


class StoreProvider(Protocol):
    """The hub's per-thread store connections (``web``'s pool): ``get()`` inside
    ``in_use()``, whose deadline stops a request's queries."""

    def get(self) -> Store: ...

    def in_use(self) -> contextlib.AbstractContextManager[None]: ...


@dataclass(frozen=True, slots=True)
class HubOptions:
    """What ``perflab serve`` was told about metrics on its command line."""

    config_path: str | None = None            # --scrape FILE: a Prometheus configuration
    rule_files: tuple[str, ...] = ()          # --rules FILE (repeatable)
    eval_interval_ms: int | None = None       # --eval-interval
    scrape_interval_ms: int | None = None     # --scrape-interval (the hub's own node metrics)
    default_rules: bool = True                # --no-default-rules turns them off
    node_metrics: bool = True                 # the hub's node_* families
    alertmanagers: tuple[str, ...] = ()       # --alertmanager URL
    webhooks: tuple[str, ...] = ()            # --webhook URL
    notify_config: str | None = None         # --notify-config FILE: route + inhibit_rules
    slo_files: tuple[str, ...] = ()           # --slo SPEC: rules, alerts and the SLOs page
    for_outage_tolerance_ms: int = 3_600_000  # --for-outage-tolerance (0: no restoring)
    for_grace_period_ms: int = 10_000         # --for-grace-period
    remote_write: tuple[str, ...] = ()        # --remote-write URL
    retention_ns: int | None = 15 * 86_400 * 10**9  # --metrics-retention (None: keep all)
    retention_bytes: int | None = None        # --metrics-retention-size
    external_url: str = ""
    proc_root: str = "/proc"
    # the hub's own listen address and --token: notifications to the hub itself carry it
    own_address: tuple[str, int] | None = None
    own_token: str | None = field(default=None, repr=False)


@dataclass
class MetricsHub:
    store_path: Path
    options: HubOptions = field(default_factory=HubOptions)
    stores: StoreProvider | None = None
    config: PromConfig = field(default_factory=PromConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    slos: list[SLO] = field(default_factory=list)
    sink: MetricSink | None = None
    scrapes: ScrapeManager | None = None
    node: NodeScraper | None = None
    rules: Any = None        # the rule manager (_rules.RuleManager)
    notifier: Any = None     # the notifier (_notify.Notifier)
    sender: Any = None       # the remote-write sender (_sender.RemoteWriteSender)
    otlp: OtlpMetricsReceiver = field(init=False)  # /v1/metrics and MetricsService/Export
    maintenance: Any = None  # retention and block packing (_maintain.MetricsMaintenance)
    host: str = field(default_factory=socket.gethostname)
    _own_run: int | None = None
    _run_started: int | None = None
    _record_run: Callable[[], int | None] = lambda: None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.otlp = OtlpMetricsReceiver(self)
        if self.options.config_path:
            self.config = load_config(self.options.config_path)  # a bad file: exit 2 at start
        if self.options.notify_config:
            self.notify = load_notify_config(self.options.notify_config)
        self.slos = self._load_slos()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, queue: IngestQueue, record_run: Callable[[], int | None]) -> None:
        register_kinds(queue)
        self._record_run = record_run
        self.sink = MetricSink(queue, self._run_id)
        from perflab.metrics._sender import RemoteWriteSender  # noqa: PLC0415

        urls = (*self.options.remote_write, *self.config.remote_write)
        if urls:
            self.sender = RemoteWriteSender(urls)
            self.sender.start()
            self.sink.forward = self.sender.add
        if self.config.scrape_configs:
            self.scrapes = ScrapeManager(self.config, self.sink)
            self.scrapes.start()
        if self.options.node_metrics and record_run() is not None:  # --no-record: not this
            interval = (self.options.scrape_interval_ms
                        or self.config.scrape_interval_ms) / 1000
            self.node = NodeScraper(self.sink, interval, proc_root=self.options.proc_root,
                                    instance=self.host)
            self.node.start()
        self._start_rules()
        self._reload_on_sighup()
        from perflab.metrics._maintain import MetricsMaintenance, MetricsRetention  # noqa: PLC0415

        self.maintenance = MetricsMaintenance(self.store_path, MetricsRetention(
            self.options.retention_ns, self.options.retention_bytes))
        self.maintenance.start()

    def _reload_on_sighup(self) -> None:
        """SIGHUP re-reads the configuration, as it does for Prometheus (when the hub runs in
        the main thread's event loop; a test client's thread has no signals)."""
        import asyncio  # noqa: PLC0415
        import signal  # noqa: PLC0415

        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP,
                                    lambda: loop.run_in_executor(None, self.reload_logged))
        except (RuntimeError, ValueError, NotImplementedError):
            pass

    def reload_logged(self) -> bool:
        try:
            self.reload()
        except InvalidValue as exc:
            log.error("reloading the configuration failed, keeping the running one: %s",  # noqa: TRY400
                      exc.message)
            return False
        return True

    def _start_rules(self) -> None:
        from perflab.metrics._notify import HubAddress, Notifier  # noqa: PLC0415
        from perflab.metrics._rulemgr import Restore, RuleManager  # noqa: PLC0415

        assert self.sink is not None
        self.notifier = Notifier(self.alertmanager_urls(), self.options.webhooks,
                                 store_path=self.store_path,
                                 external_url=self.options.external_url,
                                 route=self.notify.route, inhibit=self.notify.inhibit_rules,
                                 own=None if self.options.own_address is None else HubAddress(
                                     *self.options.own_address, token=self.options.own_token))
        self.notifier.start()
        self.rules = RuleManager(
            self.store_path, self.sink, self.notifier,
            interval_ms=self.options.eval_interval_ms or self.config.evaluation_interval_ms,
            external_labels=self.config.external_labels,
            external_url=self.options.external_url,
            events_run=self._run_id,
            restore=Restore(self.options.for_outage_tolerance_ms,
                            self.options.for_grace_period_ms))
        self.rules.generated = self._slo_rules(self.slos)
        self.rules.load(self.rule_files(), default_rules=self.options.default_rules)
        self.rules.start()

    def _load_slos(self) -> list[SLO]:
        slos: list[SLO] = []
        for path in self.options.slo_files:
            slos.extend(load_slo(path))
        names = [s.name for s in slos]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidValue(f"SLO {duplicates[0]!r} is in more than one --slo file",
                               hint="SLO names are unique across the files")
        return slos

    @staticmethod
    def _slo_rules(slos: list[SLO]) -> list[tuple[str, str]]:
        """The SLOs' recording and alerting rules, as rule file text."""
        return [(generate_rules(slos), "<perflab --slo rules>")] if slos else []

    def alertmanager_urls(self) -> tuple[str, ...]:
        from_config = tuple(u for am in self.config.alertmanagers for u in am.urls)
        return (*self.options.alertmanagers, *from_config)

    def rule_files(self) -> list[str]:
        from perflab.metrics._config import expand_globs  # noqa: PLC0415

        return expand_globs((*self.options.rule_files, *self.config.rule_files))

    def stop(self) -> None:
        for part in (self.maintenance, self.rules, self.scrapes, self.node, self.notifier,
                     self.sender):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # stopping one part must not keep the others running
                    log.exception("stopping %s", type(part).__name__)
        if self._own_run is not None:
            try:
                with Store.open(self.store_path) as store:
                    store.finish_run(self._own_run, "ok", rollup=False)
            except StoreError as exc:
                log.error("could not end the metrics run %s: %s", self._own_run, exc)  # noqa: TRY400

    def reload(self) -> None:
        """Re-read the configuration, the notification configuration and the rule files;
        ``InvalidFile`` (and nothing changed) when one is bad."""
        config = load_config(self.options.config_path) if self.options.config_path else \
            self.config
        notify = load_notify_config(self.options.notify_config) \
            if self.options.notify_config else self.notify
        slos = self._load_slos()
        if self.rules is not None:
            files = self._rule_files_for(config)
            self.rules.check_files(files)  # raises before anything changes
        self.config = config
        self.notify = notify
        self.slos = slos
        if self.scrapes is not None:
            self.scrapes.reload(config)
        elif config.scrape_configs and self.sink is not None:
            self.scrapes = ScrapeManager(config, self.sink)
            self.scrapes.start()
        if self.rules is not None:
            self.rules.generated = self._slo_rules(slos)
            self.rules.load(self._rule_files_for(config),
                            default_rules=self.options.default_rules)
        if self.notifier is not None:
            self.notifier.set_alertmanagers(self.alertmanager_urls())
            self.notifier.configure(notify.route, notify.inhibit_rules)
        log.info("configuration reloaded")

    def _rule_files_for(self, config: PromConfig) -> list[str]:
        from perflab.metrics._config import expand_globs  # noqa: PLC0415

        return expand_globs((*self.options.rule_files, *config.rule_files))

    # -- the run samples land in ---------------------------------------------------------------

    def _run_id(self) -> int:
        recording = self._record_run()
        if recording is not None:
            return recording
        with self._lock:
            if self._own_run is None:
                with Store.open(self.store_path) as store:
                    run = store.create_run("metrics", f"metrics {self.host}",
                                           meta={"collected_by": "perflab serve"})
                self._own_run = run.id
            return self._own_run

    def run_started_ns(self) -> int | None:
        """When the run collected samples land in started (receivers refuse far older ones)."""
        if self.sink is None:
            return None
        if self._run_started is None:
            with Store.open(self.store_path, create=False) as store:
                self._run_started = store.run(self.sink.run_id).started_ns
        return self._run_started

    @contextlib.contextmanager
    def store(self) -> Iterator[Store]:
        """A connection for one request (the web pool's when there is one)."""
        if self.stores is not None:
            with self.stores.in_use():
                yield self.stores.get()
            return
        with Store.open(self.store_path, create=False) as store:
            yield store
