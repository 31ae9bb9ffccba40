"""``perflab demo``: start the demo service and the hub, record, drive the phases, find, report.

Everything the demo starts is owned by one ``Demo`` (a context manager): leaving the ``with``
block — normally, on Ctrl-C or on an error — stops the recorder, the service and the hub, in that
order, and waits for each. A Ctrl-C during the phases ends the run as ``aborted`` and the
findings are still computed from what was measured.

The hub (``perflab serve``) and the report (``perflab report``) are run as commands, not imported:
they are views above this package, and the demo uses them the way a person would.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import perflab
from perflab.chaos.providers import ProviderError
from perflab.collect import RecordingThread
from perflab.demo._alerts import leak_alerts
from perflab.demo._capacity import CapacityFinding, capacity_step
from perflab.demo._children import Child, free_port, port_accepts, port_is_free
from perflab.demo._contracts import DemoDoc, DemoPhaseName
from perflab.demo._findings import Findings, Window, findings_from_store, phase_windows
from perflab.demo._interrupts import interrupts_held
from perflab.demo._leakwatch import LeakWatch, leak_note
from perflab.demo._lockorder import check_lock_order
from perflab.demo._plan import MAX_DURATION_S, MIN_DURATION_S, Phase, plan
from perflab.demo._profiling import (
    ProfileFinding,
    not_measured,
    profile_finding,
    slice_seconds,
    start_profiler,
)
from perflab.demo._regression import RegressionFinding
from perflab.demo._regression import check as check_regression
from perflab.demo._resilience import FaultProxy, ResilienceFinding, resilience_step
from perflab.demo._tracing import (
    ChainTraffic,
    error_path_finding,
    slow_call_finding,
    tracing_available,
    wait_for_spans,
)
from perflab.demo._traffic import drive
from perflab.errors import InvalidValue, PerflabError, TargetError, Unreachable, UsageError
from perflab.store import BatchWriter, Store

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.profile import ContinuousProfiler

DEFAULT_HUB_PORT = 8600
NS = 1_000_000_000
MAX_STEP_CUT = 0.25  # a step's traffic is never cut by more than this share for start-up
_READY_TIMEOUT_S = 30.0
_REPORT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class DemoOptions:
    store_path: Path
    duration_s: float = 40.0
    hub_port: int | None = None      # None: 8600 when free, else any free port
    hub_available: bool = False      # whether this perflab has `perflab serve`
    report_available: bool = False   # whether this perflab has `perflab report`
    report_path: Path | None = None  # None: next to the store
    open_browser: bool = True


def _phase_name(name: str) -> DemoPhaseName:
    """The name of one of the plan's phases (docs/schemas/demo.schema.json lists them)."""
    if name == "normal":
        return "normal"
    if name == "cpu":
        return "cpu"
    if name == "lock":
        return "lock"
    if name == "leak":
        return "leak"
    raise ValueError(f"not a phase of the demo's plan: {name!r}")


@dataclass
class DemoResult:
    run_id: int
    store_path: Path
    status: str = "running"
    service_pid: int = 0
    service_port: int = 0
    hub_url: str | None = None
    run_url: str | None = None
    report_path: Path | None = None
    bench_url: str | None = None  # the Benchmarks page, on the regression check's branch
    phases: list[Window] = field(default_factory=list)
    findings: Findings | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> DemoDoc:
        return {
            "schema": "perflab.demo/1",
            "run_id": self.run_id,
            # printed once the demo has ended: ok, or aborted (Ctrl-C, a failure)
            "status": "ok" if self.status == "ok" else "aborted",
            "store": str(self.store_path),
            "service": {"pid": self.service_pid, "port": self.service_port},
            "hub_url": self.hub_url,
            "url": self.run_url,
            "report": None if self.report_path is None else str(self.report_path),
            "bench_url": self.bench_url,
            "phases": [{"name": _phase_name(w.name), "start_ns": w.start_ns, "end_ns": w.end_ns,
                        "seconds": round((w.end_ns - w.start_ns) / 1e9, 3)}
                       for w in self.phases],
            "findings": None if self.findings is None else self.findings.to_json(),
            "notes": self.notes,
        }


def check_duration(duration_s: float) -> None:
    if not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
        raise InvalidValue(
            f"--duration must be between {MIN_DURATION_S:.0f}s and {MAX_DURATION_S / 60:.0f}m",
            hint="each of the four phases needs a couple of seconds; try --duration 40s",
        )


class Demo:
    """One demo: ``with Demo(opts, say) as d: result = d.run()``."""

    def __init__(self, opts: DemoOptions, say: Callable[[str], None]) -> None:
        check_duration(opts.duration_s)
        self.opts = opts
        self.say = say
        self.phases = plan(opts.duration_s)
        # every endpoint gets its load.* series in every second, driven or not
        self.endpoints = sorted({st.endpoint for p in self.phases for step in p.steps
                                 for st in step.streams})
        self._tmp: Path | None = None  # the children's logs and port file, made when they start
        self._env = _child_env()
        self.service: Child | None = None
        self.hub: Child | None = None
        self.chain: list[Child] = []  # the traced frontend -> api -> store services
        self.chain_port: int | None = None
        self.fault_proxy: FaultProxy | None = None  # in front of the api's calls to the store
        self.recording: RecordingThread | None = None
        self.profiler: ContinuousProfiler | None = None  # py-spy on the service
        self.profile_note: str | None = None
        self.leak_note: str | None = None
        self.lock_note: str | None = None
        self.store: Store | None = None
        self.hub_port: int | None = None
        self.recording_error: str | None = None
        self._stop = threading.Event()
        self._overhead_s = 0.0  # what starting a step's load tests took, the last time

    # -- lifetime ------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close(failed=exc is not None and not isinstance(exc, KeyboardInterrupt))

    def close(self, *, failed: bool = False) -> None:
        """Stop everything this demo started. Idempotent; Ctrl-C during it is postponed."""
        self._stop.set()
        for stop in (self._stop_recording, self._stop_chain, self._stop_service,
                     self._stop_hub):
            try:
                stop()
            except KeyboardInterrupt:
                stop()  # a second Ctrl-C while stopping: finish stopping, then leave
        if self.store is not None:
            self.store.close()
            self.store = None
        # After a failure the children's logs stay, for the error's hint to point at.
        if self._tmp is not None and not failed:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def _stop_recording(self) -> None:
        if self.profiler is not None:
            profiler, self.profiler = self.profiler, None
            profiler.stop()
            if profiler.errors and not profiler.slices:
                self.profile_note = f"py-spy could not profile the service: {profiler.errors[0]}"
        if self.recording is not None:
            rec, self.recording = self.recording, None
            rec.stop()
            self.recording_error = rec.error

    def _stop_chain(self) -> None:
        """Stop the chain, frontend first (each flushes its last spans as it stops)."""
        chain, self.chain = self.chain, []
        for child in reversed(chain):
            child.stop()
        if self.fault_proxy is not None:
            proxy, self.fault_proxy = self.fault_proxy, None
            proxy.stop()

    def _stop_service(self) -> None:
        if self.service is not None:
            self.service.stop()

    def _stop_hub(self) -> None:
        if self.hub is not None:
            self.hub.stop()

    # -- the demo ------------------------------------------------------------------------------

    def run(self) -> DemoResult:
        opts = self.opts
        self.hub_port = self._choose_hub_port() if opts.hub_available else None
        self.store = Store.open(opts.store_path)
        self._start_children()
        assert self.service is not None
        assert self._tmp is not None
        service_port = int((self._tmp / "service.port").read_text())
        hub_url = f"http://127.0.0.1:{self.hub_port}" if self.hub is not None else None
        run = self.store.create_run("demo", "demo", meta={
            "service": {"pid": self.service.pid, "port": service_port},
            "duration_s": opts.duration_s, "hub_url": hub_url,
            "phases": [{"name": p.name, "seconds": round(p.seconds, 3)} for p in self.phases],
        })
        result = DemoResult(run.id, opts.store_path, service_pid=self.service.pid,
                            service_port=service_port, hub_url=hub_url,
                            run_url=f"{hub_url}/runs/{run.id}" if hub_url else None)
        if not opts.hub_available:
            result.notes.append("the hub (`perflab serve`) is not part of this perflab build; "
                                f"look at the run with `perflab show {run.id}`")
        self.say(f"run {run.id} in {opts.store_path}")
        if result.run_url:
            self.say(f"watch it live: {result.run_url}")
        self.recording = RecordingThread(
            opts.store_path, run.id, interval_s=1.0 if opts.duration_s >= 30 else 0.5,
            pids=[self.service.pid], name="demo-recorder")
        self.recording.start()
        self._start_profiler(run.id)
        threading.Thread(target=self._watch_service, name="demo-watchdog", daemon=True).start()
        writer = BatchWriter(self.store, run.id)
        traffic = ChainTraffic(self.chain_port) if self.chain_port is not None else None
        if traffic is not None:
            self.say("the traced chain (frontend -> api -> store) takes checkouts meanwhile; "
                     "its spans go to the hub")
            traffic.start()
        try:
            for i, phase in enumerate(self.phases, 1):
                self.say(f"phase {i}/{len(self.phases)} {phase.name}: {phase.text} "
                         f"({phase.seconds:.0f}s)")
                result.phases.append(self._run_phase(phase, writer, service_port))
            result.status = "ok"
        except KeyboardInterrupt:
            result.status = "aborted"
            self.say("interrupted: stopping, and keeping what was measured")
        except BaseException:
            # the error is reported by the caller; the run must not stay "running"
            writer.flush()
            self._stop_recording()
            self.store.finish_run(run.id, "failed")
            raise
        finally:
            writer.flush()
            if traffic is not None:
                traffic.stop()
        phases_end = time.time_ns()
        resilience = self._resilience(result, run.id) if traffic is not None else ()
        self._stop_recording()
        tracing = self._tracing_findings(run.id, phases_end) if traffic is not None else ()
        if self.recording_error is not None:
            result.notes.append(f"the recorder stopped early: {self.recording_error}")
        regression = self._check_regression(result, run.id) if result.status == "ok" else None
        capacity = self._capacity(result) if result.status == "ok" else None
        result.findings = replace(findings_from_store(self.store, run.id, self.service.pid),
                                  regression=regression, profile=self._profile_finding(run.id),
                                  tracing=tracing, resilience=resilience)
        result.notes.extend(leak_alerts(self.store, run.id, self.service.pid))
        if self.leak_note is not None:
            result.notes.append(self.leak_note)
        if self.lock_note is not None:
            result.notes.append(self.lock_note)
        self.store.finish_run(run.id, result.status,
                              # a list: the order of the findings survives the JSON column
                              meta_update={"findings": [f.to_json()
                                                        for f in result.findings.all()]
                                            + ([] if capacity is None else [capacity.to_json()]),
                                            "capacity": None if capacity is None
                                            else capacity.doc})
        if result.status == "ok":
            self._write_report(result)
        return result

    def _tracing_findings(self, run_id: int, end: int) -> tuple[Any, ...]:
        """The chain's slow call and error path, from its traces until ``end`` (the phases'
        end: the resilience step's checkouts are slow and failing on purpose), after its last
        spans are in: the chain stops first, flushing them."""
        assert self.store is not None
        self._stop_chain()
        wait_for_spans(self.opts.store_path)
        run = self.store.run(run_id)
        return (slow_call_finding(self.store, run.started_ns, end),
                error_path_finding(self.store, run.started_ns, end))

    def _resilience(self, result: DemoResult, run_id: int) -> tuple[ResilienceFinding, ...]:
        """The chain under a latency toxic, then an error toxic; Ctrl-C ends the demo as
        aborted."""
        if result.status != "ok" or self.fault_proxy is None or self.chain_port is None:
            return ()
        self.say("resilience step: a latency toxic, then an error toxic, in front of the api's "
                 "calls to the store; is p99 < 2s and are errors < 5% under each?")
        try:
            return resilience_step(self.fault_proxy, self.opts.store_path, run_id,
                                   self.chain_port, self._stop)
        except KeyboardInterrupt:
            result.status = "aborted"
            self.say("interrupted: stopping, and keeping what was measured")
            result.notes.append("the resilience step was interrupted")
        except (PerflabError, ProviderError) as exc:  # the other findings still stand
            result.notes.append(f"the resilience step failed: {exc}")
        return ()

    def _check_regression(self, result: DemoResult, run_id: int) -> RegressionFinding | None:
        """Benchmark two versions of a service function; Ctrl-C ends the demo as aborted."""
        assert self.store is not None
        self.say("regression check: benchmarking render_items, version 1 against version 2 "
                 "(perflab bench runner, a few seconds)")
        try:
            finding = check_regression(self.store, run_id)
        except KeyboardInterrupt:
            result.status = "aborted"
            self.say("interrupted: stopping, and keeping what was measured")
            result.notes.append("the regression check was interrupted")
            return None
        except UsageError as exc:  # a worker that failed: the other findings still stand
            result.notes.append(f"the regression check failed: {exc}")
            return None
        if result.hub_url:
            result.bench_url = f"{result.hub_url}/benchmarks?branch={finding.branch}"
        return finding

    def _capacity(self, result: DemoResult) -> CapacityFinding:
        """A short capacity search of the service, faults off (demo/_capacity.py)."""
        assert self.store is not None
        self.say("capacity search: the highest rate /work takes within its SLO (a few seconds)")
        _set_faults(result.service_port, {"cpu": False, "lock": False, "leak": False})
        finding = capacity_step(self.store, result.service_port, result.service_pid,
                                self._stop)
        if finding.doc is not None and finding.doc["status"] == "aborted":
            result.status = "aborted"
        self.say(finding.summary)
        result.notes.append(finding.summary)
        return finding

    def _start_profiler(self, run_id: int) -> None:
        assert self.service is not None
        slice_s = slice_seconds(self.opts.duration_s)
        started = start_profiler(self.opts.store_path, run_id, self.service.pid, slice_s)
        if isinstance(started, str):
            self.profile_note = started
            self.say(f"note: {started}")
        else:
            self.profiler = started
            self.say(f"profiling the service with py-spy, in {slice_s:g} s slices on the run's "
                     "timeline")

    def _profile_finding(self, run_id: int) -> ProfileFinding:
        assert self.store is not None
        if self.profile_note is not None:
            return not_measured(self.profile_note)
        phases = phase_windows(self.store, run_id)
        return profile_finding(self.store, run_id, phases.get("normal"), phases.get("cpu"))

    def _watch_service(self) -> None:
        """Stop the traffic at once if the service dies: the phase then fails without waiting."""
        service = self.service
        while service is not None and not self._stop.wait(0.2):
            if service.exited():
                self._stop.set()

    def serve_until_interrupted(self) -> None:
        """``--keep``: the hub keeps serving (everything else is stopped) until Ctrl-C."""
        self._stop_service()
        if self.hub is None:
            return
        with contextlib.suppress(KeyboardInterrupt):
            while self.hub.proc is not None and self.hub.proc.poll() is None:
                time.sleep(0.5)

    def open_browser(self, url: str) -> bool:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return False
        with contextlib.suppress(webbrowser.Error):
            return webbrowser.open(url)
        return False

    # -- steps ---------------------------------------------------------------------------------

    def _choose_hub_port(self) -> int:
        port = self.opts.hub_port
        if port is not None:
            if not port_is_free(port):
                raise UsageError(f"port {port} on 127.0.0.1 is already in use",
                                 hint="pass another --port, or leave it out to pick a free one")
            return port
        return DEFAULT_HUB_PORT if port_is_free(DEFAULT_HUB_PORT) else free_port()

    def _start_children(self) -> None:
        py = sys.executable
        self._tmp = Path(tempfile.mkdtemp(prefix="perflab-demo-"))
        port_file = self._tmp / "service.port"
        self.service = Child("demo service", [
            py, "-m", "perflab.demo.service", "--port", "0", "--port-file", str(port_file),
        ], log_path=self._tmp / "service.log", env={
            # the debug agent, for perflab leak's tracemalloc sites in the leak phase, with
            # lockwatch for the planted lock-order inversion
            **self._env, "PERFLAB_DEBUG": "1", "PERFLAB_DEBUG_DIR": str(self._tmp / "agents"),
            "PERFLAB_LOCKWATCH": "1"})
        self.service.start()
        if self.hub_port is not None:
            self.hub = Child("hub (perflab serve)", [
                py, "-m", "perflab", "serve", "--listen", f"127.0.0.1:{self.hub_port}",
                "--store", str(self.opts.store_path), "--no-record",
                # spans come in on the hub's own port; the default receiver ports stay free
                "--no-otlp-http", "--no-otlp-grpc", "--no-zipkin",
            ], log_path=self._tmp / "hub.log", env=self._env)
            self.hub.start()
        self.say("starting the demo service" + (" and the hub" if self.hub else ""))
        self.service.wait_ready(lambda: _service_ready(port_file), _READY_TIMEOUT_S)
        if self.hub is not None:
            port = self.hub_port
            assert port is not None
            self.hub.wait_ready(lambda: port_accepts(port), _READY_TIMEOUT_S)
            if tracing_available():
                self._start_chain(port)
            else:
                self.say("note: the OpenTelemetry SDK is not installed: the traced chain is "
                         "skipped (pip install 'perflab[otel]')")

    def _start_chain(self, hub_port: int) -> None:
        """store, then api, then frontend, each told where the next one listens."""
        assert self._tmp is not None
        env = {**self._env, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{hub_port}",
               "OTEL_BSP_SCHEDULE_DELAY": "500", "OTEL_TRACES_SAMPLER": "always_on"}
        next_url = ""
        self.fault_proxy = FaultProxy(self.opts.store_path)
        for role in ("store", "api", "frontend"):
            port_file = self._tmp / f"{role}.port"
            args = [sys.executable, "-m", "perflab.demo.chain", "--role", role, "--port", "0",
                    "--port-file", str(port_file)]
            if next_url:
                args += ["--next", next_url]
            child = Child(f"demo {role}", args, log_path=self._tmp / f"{role}.log", env=env)
            child.start()
            self.chain.append(child)
            child.wait_ready(functools.partial(_chain_ready, port_file), _READY_TIMEOUT_S)
            port = int(port_file.read_text())
            # the api calls the store through the fault proxy (the resilience step's toxics)
            next_url = (self.fault_proxy.start(port) if role == "store"
                        else f"http://127.0.0.1:{port}")
        self.chain_port = int((self._tmp / "frontend.port").read_text())

    def _run_phase(self, phase: Phase, writer: BatchWriter, service_port: int) -> Window:
        assert self.service is not None
        assert self.store is not None
        try:
            _set_faults(service_port, phase.faults)
        except Unreachable:
            # a service killed while it answers resets the connection: name its death instead
            if self.service.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.service.proc.wait(1.0)
            self._fail_if_service_died(phase)
            raise
        start = time.time_ns()
        run_id = writer.run_id
        watch = None
        if phase.name == "leak":
            assert self._tmp is not None
            watch = LeakWatch(self.opts.store_path, run_id, self.service.pid, phase.seconds,
                              self._tmp / "agents")
            watch.start()
        try:
            for step in phase.steps:
                step_start = time.time_ns()
                # Each step's tests start worker processes (about half a second on a busy
                # machine): the traffic is shortened by what that cost last time, so the demo
                # lasts about as long as asked
                seconds = max(step.seconds - self._overhead_s,
                              step.seconds * (1 - MAX_STEP_CUT))
                error: BaseException | None = None
                try:
                    drive(self.opts.store_path, run_id, service_port, step.streams, seconds,
                          name=f"{phase.name} phase", stop=self._stop)
                except PerflabError as exc:  # a dead service explains itself better below
                    error = exc
                step_end = time.time_ns()
                self._overhead_s = max(0.0, (step_end - step_start) / NS - seconds)
                conc = {s.endpoint: s.concurrency for s in step.streams}
                _write_idle_endpoints(writer, [e for e in self.endpoints if e not in conc],
                                      step_start, step_end)
                writer.flush()
                if step.label:
                    writer.event("step", f"{phase.name}: {step.label}", ts_ns=step_start,
                                 end_ns=step_end, attrs={"phase": phase.name,
                                                         "concurrency": sorted(conc.values())})
                self._fail_if_service_died(phase)
                if error is not None:
                    raise error
        finally:
            if watch is not None:
                watch.join()
                self.leak_note = leak_note(watch)
            if phase.name == "lock" and self._tmp is not None:
                self.lock_note = check_lock_order(self.opts.store_path, run_id,
                                                  self.service.pid, self._tmp / "agents")
            end = time.time_ns()
            with interrupts_held():  # an interrupted phase is kept: its event is written whole
                writer.event("phase", f"{phase.name}: {phase.text}", ts_ns=start, end_ns=end,
                             attrs={"phase": phase.name,
                                    "faults": sorted(k for k, on in phase.faults.items() if on)})
        return Window(phase.name, start, end)

    def _fail_if_service_died(self, phase: Phase) -> None:
        assert self.service is not None
        if self.service.exited():
            raise TargetError(
                f"the demo service {self.service.how_it_ended()} during the {phase.name}"
                " phase; the run is marked failed",
                hint=f"unless something else stopped it, this is a bug in perflab: the "
                     f"service's output is in {self.service.log_path}")

    def _write_report(self, result: DemoResult) -> None:
        if not self.opts.report_available:
            result.notes.append("HTML reports (`perflab report`) are not part of this build")
            return
        path = self.opts.report_path or (self.opts.store_path.parent
                                         / f"perflab-demo-{result.run_id}.html")
        cmd = [sys.executable, "-m", "perflab", "report", str(result.run_id), "-o", str(path),
               "--store", str(self.opts.store_path)]
        self.say(f"writing the report to {path}")
        try:
            done = subprocess.run(cmd, env=self._env, capture_output=True, text=True,
                                  timeout=_REPORT_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            result.notes.append(f"the report took more than {_REPORT_TIMEOUT_S:.0f}s; skipped")
            return
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            result.notes.append(f"the report failed (exit {done.returncode}): {why}")
            return
        result.report_path = path


def _child_env() -> dict[str, str]:
    """The environment of the children: they import this very perflab, wherever it lives."""
    env = dict(os.environ)
    src = str(Path(perflab.__file__).resolve().parent.parent)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([src, *[p for p in parts if p != src]])
    return env


def _written_port(port_file: Path) -> int | None:
    """The port a child wrote once it listens; None before then (no file, or half written)."""
    try:
        return int(port_file.read_text())
    except (OSError, ValueError):
        return None


def _service_ready(port_file: Path) -> bool:
    port = _written_port(port_file)
    if port is None:
        return False
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return int(resp.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def _chain_ready(port_file: Path) -> bool:
    port = _written_port(port_file)
    return port is not None and port_accepts(port)


def _set_faults(port: int, faults: dict[str, bool]) -> None:
    query = "&".join(f"{k}={'on' if on else 'off'}" for k, on in sorted(faults.items()))
    url = f"http://127.0.0.1:{port}/admin/faults?{query}"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            state = json.load(resp)["faults"]
    except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
        raise Unreachable(f"cannot switch the demo service's faults: {exc}",
                          hint="the demo service stopped answering; see its output") from exc
    if state != faults:
        raise Unreachable(f"the demo service did not switch its faults to {faults}: {state}")


def _write_idle_endpoints(writer: BatchWriter, endpoints: list[str], start_ns: int,
                          end_ns: int) -> None:
    """Endpoints not driven in a step get measured zeros for each of its seconds (no traffic,
    not a gap for a chart to draw a line across)."""
    n = max(1, -(-(end_ns - start_ns) // NS))  # ceil: a short last second counts
    for endpoint in endpoints:
        ep = {"endpoint": endpoint}
        for i in range(1, n + 1):
            ts = min(start_ns + i * NS, end_ns)
            writer.add_value("load.rps", ep, ts, 0.0, "/s")
            writer.add_value("load.errors_per_s", ep, ts, 0.0, "/s")
            writer.add_value("load.connections", ep, ts, 0.0, "")
