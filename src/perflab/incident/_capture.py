"""``perflab incident open``: start an incident and capture its evidence bundle.

Within the first minute, bounded in time and size: the commands that touch a target (system
snapshot, ``proc`` of each suspect, sockets and TCP counters, thread stacks or a goroutine
dump, a CPU and an off-CPU profile) run as child processes, a few at a time, each with its
timeout (``_steps``); meanwhile this process samples each suspect's memory and CPU from
``/proc`` and reads the store's last 15 minutes (``_context``). Every step's output is an
artifact of the incident's run and an ``evidence`` item of its timeline, written as it comes:
a suspect that exits mid-capture fails its remaining steps and nothing else; a full disk
cancels what is left, keeps what was written, and is reported (StoreFull, exit 3).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perflab.errors import NoSuchProcess, StoreFull
from perflab.incident._context import store_context
from perflab.incident._pprof_detect import BUDGET_S, detect_pprof
from perflab.incident._steps import Step, StepResult, run_steps
from perflab.incident._watch import ProcessWatch
from perflab.store import add_incident_item, create_incident

if TYPE_CHECKING:
    from perflab.store import Run, Store

NS = 1_000_000_000
BENCH_RUN_KIND = "bench"  # the runs `perflab bench record` writes (its history)
LOOKBACK_NS = 15 * 60 * NS  # the store's last 15 minutes around the suspects
# the off-CPU profile takes its stacks in the suspect's own context switches (the exact one
# was measured at +6.6 % CPU per request): at 1 in 8 of them (time scaled by 8, an estimate
# the profile says it is) 7 switches in 8 take no stack (docs/incident.md, Figures)
OFFCPU_SAMPLE = 8


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    title: str
    pids: tuple[int, ...] = ()
    services: tuple[str, ...] = ()
    pprof: tuple[str, ...] = ()  # Go services' pprof base URLs
    profile_s: float = 10.0  # the CPU and off-CPU profiles (0: none)
    offcpu_sample: int = OFFCPU_SAMPLE  # off-CPU stacks at 1 in N switch-outs (1: all)
    lookback_ns: int = LOOKBACK_NS
    parallel: int = 3  # steps at once: a 2-core machine should not be swamped by the capture
    # the steps' niceness: when the cores are busy, the target gets ~9 of 10 contended CPU
    # slices (CFS weights 1024 against 110); the profiles' probes run in the target's own
    # context and are not slowed (0: the steps run as perflab does)
    nice: int = 10
    proc_root: str = "/proc"
    alert: dict[str, str] | None = None  # the alert that opened it: name, fingerprint
    bench_history: bool = True  # the store holds benchmark history: look for regressions
    detect_pprof: bool = True  # probe the suspects' loopback listeners for Go's pprof


@dataclass(slots=True)
class Captured:
    """What a capture kept: evidence item ids by step name, and whether it was cut short."""

    incident_id: int
    steps: dict[str, str] = field(default_factory=dict)  # step -> status
    full_disk: bool = False


def plan(opts: CaptureOptions, store_path: str, incident_id: int, tmp: Path) -> list[Step]:
    """The commands of a capture, quickest first so the profiles do not hold the rest up."""
    steps = [Step("system", ("top", "--once", "--json", "-d", "1s"), 20.0)]
    net = ["net", "--json", "-a"]
    net += [a for pid in opts.pids for a in ("-p", str(pid))]
    steps.append(Step("net", tuple(net), 20.0))
    if opts.bench_history:
        steps.append(Step("bench regressions", ("bench", "regressions", "--json", "--store",
                                                store_path), 30.0, ok_codes=(0, 1)))
    for pid in opts.pids:
        steps.append(Step(f"proc {pid}", ("proc", str(pid), "--json", "--interval", "1s",
                                          "--maps", "10"), 20.0))
        steps.append(Step(f"stacks {pid}", ("stacks", str(pid), "--json", "--store", store_path,
                                            "--run", str(incident_id)), 30.0, ok_codes=(0, 1)))
    for url in opts.pprof:
        steps.append(Step(f"goroutines {url}", ("goroutines", url, "--json", "--store",  # noqa: PERF401  # one line per kind of step
                                                store_path, "--run", str(incident_id)), 30.0,
                          ok_codes=(0, 1)))
    if opts.profile_s > 0:
        duration = f"{opts.profile_s:g}s"
        budget = opts.profile_s + 30.0  # the tool's start and the profile's symbolisation
        for pid in opts.pids:
            for mode in ("cpu", "offcpu"):
                out = str(tmp / f"{mode}-{pid}.pb.gz")
                sample = ("--offcpu-sample", str(opts.offcpu_sample)) if mode == "offcpu" else ()
                steps.append(Step(f"{mode}-profile {pid}", (
                    "profile", "capture", str(pid), "--duration", duration, "--mode", mode,
                    *sample, "--top", "15", "-o", out, "--json"), budget, files=(out,)))
        for i, url in enumerate(opts.pprof):
            out = str(tmp / f"cpu-pprof-{i}.pb.gz")
            steps.append(Step(f"cpu-profile {url}", (
                "profile", "capture", "--pprof", url, "--duration", duration, "--top", "15",
                "-o", out, "--json"), budget, files=(out,)))
    return [dataclasses.replace(step, nice=opts.nice) for step in steps]


def _with_detected_pprof(opts: CaptureOptions, progress: Any) -> CaptureOptions:
    """The options with the pprof endpoints the suspect PIDs serve added (one budget for
    all the PIDs: a capture starts within seconds)."""
    deadline = time.monotonic() + BUDGET_S
    urls = list(opts.pprof)
    for pid in opts.pids:
        found = detect_pprof(pid, Path(opts.proc_root),
                             budget_s=max(0.0, deadline - time.monotonic()))
        if progress is not None:
            progress(f"pprof of {pid}", ", ".join(found) or "none found")
        urls += [u for u in found if u not in urls]
    return dataclasses.replace(opts, pprof=tuple(urls))


def open_incident(store: Store, opts: CaptureOptions, *,
                  progress: Any = None) -> Captured:
    """Open the incident and capture its evidence into ``store``; returns what was kept."""
    for pid in opts.pids:
        if not Path(opts.proc_root, str(pid)).is_dir():
            raise NoSuchProcess(pid, hint="give the PID of a running suspect (`perflab top`)")
    if opts.detect_pprof and opts.pids:
        opts = _with_detected_pprof(opts, progress)
    suspects: dict[str, Any] = {"services": list(opts.services), "pids": list(opts.pids),
                                "pprof": list(opts.pprof)}
    if opts.alert:
        suspects["alert"] = opts.alert
    if not store.runs(kind=BENCH_RUN_KIND, limit=1):
        # no history, no regression: a step less (each perflab step costs ~0.4 s of CPU)
        opts = dataclasses.replace(opts, bench_history=False)
    run = create_incident(store, opts.title, suspects=suspects)
    captured = Captured(run.id)
    watch = ProcessWatch(opts.pids, proc_root=opts.proc_root)
    watch.start()
    try:
        with tempfile.TemporaryDirectory(prefix="perflab-incident-") as tmp:
            steps = plan(opts, str(store.path), run.id, Path(tmp))

            def done(result: StepResult) -> bool:
                if progress is not None:
                    progress(result.step.name, result.status)
                return _keep(store, run, result, captured)

            _context_step(store, run, opts, captured)
            if not captured.full_disk:
                run_steps(steps, parallel=opts.parallel, on_done=done)
    finally:
        watch.stop()
    if not captured.full_disk:
        _keep_json(store, run, "process watch", watch.document(), captured, duration_s=0.0)
    _finish(store, run, captured)
    return captured


def _context_step(store: Store, run: Run, opts: CaptureOptions, captured: Captured) -> None:
    """The store's last minutes around the suspects (metrics, logs, spans, alerts, deploys,
    load runs), read in this process: a store query has no target to hang on."""
    started = time.monotonic()
    try:
        doc = store_context(store, opts.pids, opts.services, run.started_ns - opts.lookback_ns,
                            run.started_ns)
    except StoreFull:
        captured.full_disk = True
        return
    except Exception as exc:  # one failed step must not lose the others
        _item(store, run, captured, "store context", status="failed",
              duration_s=time.monotonic() - started, message=str(exc), artifact_id=None, size=0)
        return
    _keep_json(store, run, "store context", doc, captured,
               duration_s=time.monotonic() - started)


def _keep_json(store: Store, run: Run, step: str, doc: object, captured: Captured, *,
               duration_s: float) -> None:
    data = json.dumps(doc, sort_keys=True, default=str).encode()
    try:
        art = store.add_artifact(run.id, "evidence", data, name=step,
                                 content_type="application/json")
        _item(store, run, captured, step, status="ok", duration_s=duration_s, message="",
              artifact_id=art, size=len(data))
    except StoreFull:
        captured.full_disk = True


def _keep(store: Store, run: Run, result: StepResult, captured: Captured) -> bool:
    """Write one step's output and its evidence item; False (cancel the rest) on a full disk."""
    name = result.step.name
    if captured.full_disk:
        return False  # nothing more is written once the disk is full
    try:
        art = None
        if result.stdout:
            art = store.add_artifact(run.id, "evidence", result.stdout, name=name,
                                     content_type="application/json",
                                     attrs={"exit_code": result.exit_code})
        for path, data in result.files.items():
            store.add_artifact(run.id, "evidence.file", data, name=Path(path).name,
                               content_type="application/vnd.google.protobuf+gzip",
                               attrs={"step": name})
        _item(store, run, captured, name, status=result.status, duration_s=result.duration_s,
              message=result.message, artifact_id=art,
              size=len(result.stdout) + sum(len(d) for d in result.files.values()))
    except StoreFull:
        captured.full_disk = True
        return False
    return True


def _item(store: Store, run: Run, captured: Captured, step: str, *, status: str,
          duration_s: float, message: str, artifact_id: int | None, size: int) -> None:
    add_incident_item(store, run.id, "evidence", step, body=message, attrs={
        "status": status, "duration_s": round(duration_s, 3), "artifact_id": artifact_id,
        "bytes": size})
    captured.steps[step] = status


def _finish(store: Store, run: Run, captured: Captured) -> None:
    """End the capture's run; a full disk ends it ``failed`` if that can still be written,
    and is reported with what was kept."""
    status = "failed" if captured.full_disk else "ok"
    with contextlib.suppress(StoreFull):
        store.finish_run(run.id, status, rollup=False)
    if captured.full_disk:
        kept = sum(1 for s in captured.steps.values() if s == "ok")
        raise StoreFull(
            f"the disk filled during the capture of incident {run.id}: {kept} steps were kept,"
            " the rest not taken",
            hint=f"free space, then `perflab incident show {run.id}` shows what was kept")

