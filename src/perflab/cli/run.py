"""``perflab run [--trace] -- CMD ARGS...``: start CMD as a child, record it (and its children)
into a run as ``record --pid`` would, point its OpenTelemetry SDK at the hub, forward signals,
and exit with its exit code.

The child gets ``OTEL_*`` variables (unless already set): ``OTEL_SERVICE_NAME``, the hub's
OTLP/HTTP endpoint, ``OTEL_TRACES_EXPORTER=otlp`` and ``perflab.run.id`` in
``OTEL_RESOURCE_ATTRIBUTES``, so a service set up with ``perflab.otel.setup()`` or run under the
OTel zero-code instrumentation (``--trace``) sends its spans to the hub, where they land on this
run's timeline. The child runs in its own process group; SIGINT, SIGTERM, SIGHUP, SIGQUIT and
SIGUSR1/2 received by perflab are passed to that group. A child killed by a signal N gives
exit code 128 + N, as a shell reports it.

``--debug`` starts perflab's debug agent in a Python child (and its Python children) with no
change to its code: perflab's ``sitecustomize`` goes first on its PYTHONPATH and chains to the next
one (with ``--trace``, OpenTelemetry's zero-code one, which ``opentelemetry-instrument`` would
otherwise put first).

The child's stdout and stderr pass through to perflab's own, byte for byte, and are captured as
log lines of the run (labels ``run``, ``stream``, ``command``; ``logs.OutputCapture``) unless
``--no-logs``: they are pipes then, not the terminal, so a child that buffers its output when
it is not on a terminal (Python, C's stdio) shows it in blocks.

``--clock-skew -2h`` starts CMD under libfaketime (``perflab.chaos.faults.ClockSkew``): its wall
clock, and its children's, runs that far off; a ``chaos.fault`` band on the run covers its life.
Should perflab be killed (``kill -9``), a watchdog ends the child's process group and the band.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from perflab.cli._common import POSITIVE_DURATION, emit_doc, json_option, open_store, store_option
from perflab.debug import agent_env
from perflab.errors import InvalidValue, TargetError
from perflab.store import CHAOS_FAULT_EVENT, end_event
from perflab.units import redact_args

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.chaos.faults import BandWatch, ClockSkew
    from perflab.cli._contracts import RunDoc
    from perflab.logs import OutputCapture

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2)
DEFAULT_HUB = "http://127.0.0.1:4318"


def child_env(base: dict[str, str], *, service: str, hub: str, run_id: int) -> dict[str, str]:
    """The child's environment: the user's, plus the OTel variables it does not set itself."""
    env = dict(base)
    env.setdefault("OTEL_SERVICE_NAME", service)
    env.setdefault("OTEL_EXPORTER_OTLP_ENDPOINT", hub)
    env.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    env.setdefault("OTEL_TRACES_EXPORTER", "otlp")
    env.setdefault("OTEL_METRICS_EXPORTER", "none")
    env.setdefault("OTEL_LOGS_EXPORTER", "none")
    extra = f"perflab.run.id={run_id}"
    attrs = env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    env["OTEL_RESOURCE_ATTRIBUTES"] = f"{attrs},{extra}" if attrs else extra
    return env


def otel_site_dir() -> str | None:
    """The directory of OpenTelemetry's zero-code ``sitecustomize``, or None when it is not
    installed."""
    import importlib.util  # noqa: PLC0415  # only for run --debug --trace

    try:
        spec = importlib.util.find_spec("opentelemetry.instrumentation.auto_instrumentation")
    except ImportError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(next(iter(spec.submodule_search_locations)))


def instrumented(cmd: list[str]) -> list[str] | None:
    """CMD under the OTel zero-code instrumentation (``opentelemetry-instrument CMD``), or None
    when it is not installed."""
    here = Path(sys.executable).parent / "opentelemetry-instrument"
    tool = str(here) if here.exists() else shutil.which("opentelemetry-instrument")
    return None if tool is None else [tool, *cmd]


@click.command("run", context_settings={"ignore_unknown_options": True})
@click.option("--trace", "trace_it", is_flag=True,
              help="Start a Python CMD under the OpenTelemetry zero-code instrumentation "
                   "(opentelemetry-instrument), when it is installed.")
@click.option("--debug", "debug_it", is_flag=True,
              help="Start perflab's debug agent in a Python CMD (no code change): perflab leak, "
                   "stacks and lockwatch then see inside it.")
@click.option("--service", default=None, help="Its service name (default: the command's name).")
@click.option("--hub", default=DEFAULT_HUB, show_default=True, metavar="URL",
              help="Where its spans go: a perflab serve's OTLP/HTTP receiver.")
@click.option("--name", default=None, help="Name of the run (default: run-<command>).")
@click.option("--no-logs", is_flag=True,
              help="Do not capture its stdout and stderr as log lines (they stay on the "
                   "terminal, unpiped).")
@click.option("-i", "--interval", type=POSITIVE_DURATION, default="1s", show_default=True,
              help="Time between samples of the process.")
@click.option("--clock-skew", default=None, metavar="OFFSET",
              help="Start CMD with its wall clock skewed through libfaketime: -2h, +90s, "
                   "or @2020-01-01 00:00:00 (not Go's time.Now, nor a static binary).")
@store_option
@json_option
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED)
def run(*, trace_it: bool, debug_it: bool, service: str | None, hub: str, name: str | None,
        no_logs: bool, interval: float, clock_skew: str | None, store_path: str | None,
        as_json: bool, cmd: tuple[str, ...]) -> int:
    """Run CMD as a recorded, traced child: perflab run [--trace] -- CMD ARGS..."""
    from perflab.collect.recorder import Recorder  # noqa: PLC0415  # lazy: keeps --help fast

    argv = list(cmd)
    program = Path(argv[0]).name
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        raise TargetError(f"cannot run {argv[0]!r}: no such command",
                          hint="give the command after --: perflab run -- python app.py")
    if not hub.startswith(("http://", "https://")):
        raise InvalidValue(f"invalid --hub {hub!r}", hint="like http://127.0.0.1:4318")
    skew = None if clock_skew is None else _clock_skew(clock_skew, argv[0])
    chain: list[str] = []
    if trace_it:
        # with --debug the agent's sitecustomize must come first and chain to OTel's, so the
        # command runs as opentelemetry-instrument would run it, without its launcher
        otel_dir = otel_site_dir() if debug_it else None
        wrapped = instrumented(argv)
        if wrapped is None or (debug_it and otel_dir is None):
            click.echo("perflab run: warning: opentelemetry-instrument is not installed; "
                       "running without zero-code instrumentation (pip install "
                       "opentelemetry-distro opentelemetry-exporter-otlp)", err=True)
        elif otel_dir is not None:
            chain = [otel_dir, str(Path.cwd())]
        else:
            argv = wrapped
    service_name = service or (Path(cmd[1]).stem if program.startswith("python") and
                               len(cmd) > 1 and not cmd[1].startswith("-") else program)
    # armed before the store is open (a fork must not copy an open SQLite connection); left
    # armed when this fails, the watchdog ends the band as this process ends
    watch = None if skew is None else _watch_band(store_path)
    store = open_store(store_path)
    try:
        run_rec = store.create_run("run", name or f"run-{program}", meta={
            "command": redact_args(list(cmd)), "service": service_name, "trace": trace_it,
            "hub": hub, "interval_s": interval, "debug": debug_it,
            **({"clock_skew": skew.offset} if skew is not None else {})})
        env = child_env(dict(os.environ), service=service_name, hub=hub, run_id=run_rec.id)
        if debug_it:
            env = agent_env(env, then=chain)
        if skew is not None:
            env = skew.env(env)
        pipe = None if no_logs else subprocess.PIPE
        try:
            # the user's own command, as typed: running it is what was asked
            child = subprocess.Popen(argv, env=env, process_group=0,  # noqa: S603
                                     stdout=pipe, stderr=pipe)
        except OSError as exc:
            store.finish_run(run_rec.id, "failed", meta_update={"error": str(exc)})
            raise TargetError(f"cannot start {argv[0]!r}: {exc.strerror}") from exc
        if watch is not None:
            watch.process_group(child.pid)  # killed (kill -9), the watchdog ends the child
        band = None
        if skew is not None and watch is not None:
            started = time.time_ns()
            watch.band(run_rec.id, CHAOS_FAULT_EVENT, started)  # killed, the watchdog ends it
            band = store.add_event(run_rec.id, CHAOS_FAULT_EVENT, skew.text, ts_ns=started,
                                   attrs=skew.attrs())
        rec = Recorder(store, run_rec.id, interval, pids=(child.pid,), follow_children=True)
        path = store.path
        code, samples = _supervise(
            child, rec, None if no_logs else lambda: _capture(child, path, run_rec.id, program))
        status = "ok" if code == 0 else "failed"
        if band is not None:
            end_event(store, band, time.time_ns())
        if watch is not None:
            watch.disarm()
        store.finish_run(run_rec.id, status, meta_update={"exit_code": code,
                                                          "samples": samples})
        finished = store.run(run_rec.id)
    finally:
        store.close()
    if as_json:
        doc: RunDoc = {"schema": "perflab.run/1", "run": finished.to_json(), "exit_code": code,
                       "service": service_name, "samples": samples}
        emit_doc(doc)
    else:
        click.echo(f"perflab run: run {finished.id} ({finished.name}): {program} exited "
                   f"with {code}; look at it: perflab show {finished.id}", err=True)
    return code


def _watch_band(store_path: str | None) -> BandWatch:
    from perflab.chaos.faults import BandWatch  # noqa: PLC0415  # lazy: only with --clock-skew
    from perflab.store import default_store_path  # noqa: PLC0415

    path = default_store_path() if store_path is None else Path(store_path).expanduser()
    return BandWatch.arm(path, "clock-skew")


def _clock_skew(offset: str, program: str) -> ClockSkew:
    """The validated skew (libfaketime found), after warning of what it cannot reach."""
    from perflab.chaos.faults import ClockSkew, skew_warnings  # noqa: PLC0415  # lazy: heavy

    skew = ClockSkew.parse(offset)
    for warning in skew_warnings(program):
        click.echo(f"perflab run: warning: {warning}", err=True)
    return skew


def _capture(child: subprocess.Popen[bytes], store_path: Path, run_id: int,
             program: str) -> OutputCapture:
    """The child's pipes passed through to ours and captured as the run's log lines."""
    from perflab.logs import OutputCapture  # noqa: PLC0415  # lazy: keeps --help fast

    capture = OutputCapture(store_path, run_id, program)
    for name, stream, out in (("stdout", child.stdout, sys.stdout.buffer),
                              ("stderr", child.stderr, sys.stderr.buffer)):
        assert stream is not None
        capture.attach(name, os.dup(stream.fileno()), out)
        stream.close()
    return capture


def _supervise(child: subprocess.Popen[bytes], rec: Any,
               start_capture: Callable[[], OutputCapture] | None = None) -> tuple[int, int]:
    """Record until the child exits, passing on the signals perflab gets; then, as a shell
    pipe does, until its output is closed by everything that holds it (a background process
    it started), still passing signals on. Returns (exit code as a shell reports it, samples
    written)."""
    stop = threading.Event()

    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    thread = threading.Thread(target=rec.run, args=(stop,), name="perflab-run-recorder",
                              daemon=True)
    thread.start()
    # the child's output is passed on only now: a caller that waits for its first line and
    # then signals perflab finds the signal forwarded (and the recorder started), not perflab
    # killed by it
    capture = None if start_capture is None else start_capture()
    try:
        while True:
            # in short waits, not one: the kernel gives a signal to any thread, and one taken
            # by the recorder's or the capture's thread leaves a blocking wait asleep until the
            # child ends, so the forward came only then (a SIGTERM'd child ran on). Between
            # short waits the main thread runs the handler within ~50 ms.
            try:
                rc = child.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                continue
        if capture is not None:
            capture.wait_streams()
    finally:
        time.sleep(0)  # let a last tick see the exit
        stop.set()
        thread.join(30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        rec.close()
        if capture is not None:
            capture.close()
    return (128 - rc if rc < 0 else rc), rec.samples_written
