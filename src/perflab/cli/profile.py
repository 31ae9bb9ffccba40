"""``perflab profile`` (capture, diff) and ``perflab flame``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from perflab.cli._common import (
    DURATION,
    POSITIVE_DURATION,
    emit_doc,
    json_option,
    open_store,
    store_option,
)
from perflab.errors import CheckFailed, InvalidValue

if TYPE_CHECKING:
    from perflab.profile import (
        CaptureMode,
        ProfileCaptureDoc,
        ProfileContinuousDoc,
        ProfileDiffDoc,
        ProfileExportDoc,
        ProfileFlameDoc,
    )


def _write_graph(tree: Any, out: Path, *, title: str, unit: str, summary: str, diff: bool,
                 icicle: bool) -> Literal["html", "svg"]:
    from perflab.errors import InvalidFile  # noqa: PLC0415
    from perflab.profile import render_html, render_svg  # noqa: PLC0415

    fmt: Literal["html", "svg"] = "svg" if out.suffix.lower() == ".svg" else "html"
    render = render_svg if fmt == "svg" else render_html
    text = render(tree, title=title, unit=unit, summary=summary, diff=diff, icicle=icicle)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidFile(f"cannot write: {exc.strerror}", path=str(out)) from exc
    return fmt


@click.command()
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
              help="Output file: .html (interactive) or .svg. Default: SOURCE with .html.")
@click.option("--sample-index", "-sample_index", "sample_index", default=None,
              help="Sample type to draw, by name or index (default: pprof's default).")
@click.option("--title", default=None, help="Title shown above the graph.")
@click.option("--icicle", is_flag=True, help="Root at the top (the page can switch too).")
@json_option
def flame(*, source: str, output: str | None, sample_index: str | None, title: str | None,
          icicle: bool, as_json: bool) -> None:
    """Flame graph of any profile (pprof, folded, py-spy raw, speedscope, perf script).

    The HTML page is self-contained: click a frame to zoom, search by regexp (the matched
    share of the total is shown), Reset or Esc to go back, hover for details, Icicle to put the
    root at the top.
    """
    from perflab.profile import read_profile, tree_of  # noqa: PLC0415

    prof = read_profile(source)
    index = prof.sample_index(sample_index)
    st = prof.sample_types[index]
    tree = tree_of(prof, index)
    if not prof.samples:
        raise InvalidValue(f"{source}: the profile has no samples",
                           hint="was the target idle? try --mode wall or --mode offcpu")
    if tree.values[0][0] == 0:
        raise InvalidValue(f"{source}: no samples with a {st.type} value",
                           hint="try another --sample-index")
    out = Path(output) if output else Path(source).with_suffix(".html")
    summary = f"{st.type}: {_fmt_value(tree.values[0][0], st.unit)} · {len(prof.samples)} stacks"
    fmt = _write_graph(tree, out, title=title or Path(source).name, unit=st.unit,
                       summary=summary, diff=False, icicle=icicle)
    if as_json:
        doc: ProfileFlameDoc = {
            "schema": "perflab.profile-flame/1",
            "source": source, "output": str(out), "format": fmt, "sample_type": st.type,
            "unit": st.unit, "total": tree.values[0][0], "stacks": len(prof.samples),
            "frames": len(tree.node_name),
        }
        emit_doc(doc)
        return
    click.echo(f"wrote {out} ({fmt}, {len(tree.node_name)} frames from {len(prof.samples)} "
               f"stacks, {summary.split(' · ', maxsplit=1)[0]})")


def _fmt_value(v: int, unit: str) -> str:
    from perflab.profile import scaled_label  # noqa: PLC0415

    if unit in ("count", "samples", ""):
        return f"{v} samples"
    return scaled_label(v, unit, "auto")


class _ProfileGroup(click.Group):
    """``profile diff ...`` is a subcommand; anything else (a PID, ``--``, options) captures."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            # a "--" marks a command to run; click drops it, so remember it was there
            ctx.meta["perflab.profile.command"] = "--" in args
            args = ["capture", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ProfileGroup)
def profile() -> None:
    """Profile a process or a command, or compare two profiles.

    \b
      perflab profile PID [--duration 30s] [--rate 99] [--mode cpu|wall|offcpu] [-o FILE]
                          [--offcpu-sample N]
      perflab profile -- CMD ARGS...
      perflab profile --pprof http://host:port [--duration 30s]
      perflab profile PID --slice 10s --duration 10m      (slices on a run's timeline)
      perflab profile export RUN --from 2m --to 3m -o range.pb.gz|range.html
      perflab profile diff BASE NEW [-o diff.html] [--fail-on growth>5pp]
    """


@profile.command("diff")
@click.argument("base", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
              help="Write the differential flame graph here (.html or .svg).")
@click.option("--sample-index", "-sample_index", "sample_index", default=None,
              help="Sample type to compare (default: each profile's default).")
@click.option("--top", "top_n", type=click.IntRange(min=1), default=15, show_default=True,
              help="Rows in the table of changed functions.")
@click.option("--fail-on", "fail_on", multiple=True, metavar="RULE",
              help="Exit 1 when a function's share changed more: growth>5pp (own time), "
                   "cum-growth>5pp (with callees), shrinkage>5pp. Repeatable.")
@json_option
def diff_cmd(*, base: str, new: str, output: str | None, sample_index: str | None, top_n: int,
             fail_on: tuple[str, ...], as_json: bool) -> None:
    """Which functions' share of the profile changed from BASE to NEW (normalised by totals)."""
    from perflab.profile import (  # noqa: PLC0415
        comparable,
        diff_tree,
        parse_fail_on,
        read_profile,
        share_changes,
    )

    rules = [parse_fail_on(r) for r in fail_on]
    # perf and Go's pprof name one function differently (main.(*T).m.abi0 ...): one name each
    pb, pn, warning = comparable(read_profile(base), read_profile(new))
    if warning:
        click.echo(f"perflab: warning: {warning}", err=True)
    bi, ni = pb.sample_index(sample_index), pn.sample_index(sample_index)
    if not pb.total(bi) or not pn.total(ni):
        raise InvalidValue("a profile without samples cannot be compared",
                           hint="check both files with `perflab pprof top`")
    changes = share_changes(pb, pn, bi, ni)
    failures = {r.text: r.violations(changes) for r in rules}
    if output:
        tree = diff_tree(pb, pn, bi, ni)
        _write_graph(tree, Path(output), title=f"{Path(base).name} → {Path(new).name}",
                     unit=pn.sample_types[ni].unit, diff=True, icicle=False,
                     summary="red: larger share in NEW · blue: smaller · normalised by totals")
    shown = changes[:top_n]
    if as_json:
        doc: ProfileDiffDoc = {
            "schema": "perflab.profile-diff/1",
            "base": base, "new": new, "sample_type": pn.sample_types[ni].type,
            "base_total": pb.total(bi), "new_total": pn.total(ni), "output": output,
            "functions": [{"name": c.name, "base_flat_pct": round(100 * c.base_flat, 4),
                           "new_flat_pct": round(100 * c.new_flat, 4),
                           "flat_delta_pp": round(c.flat_delta_pp, 4),
                           "base_cum_pct": round(100 * c.base_cum, 4),
                           "new_cum_pct": round(100 * c.new_cum, 4),
                           "cum_delta_pp": round(c.cum_delta_pp, 4)} for c in shown],
            "checks": [{"rule": k, "passed": not v, "violations": [c.name for c in v]}
                       for k, v in failures.items()],
        }
        emit_doc(doc)
    else:
        click.echo(f"{'own base':>9} {'own new':>8} {'Δ own':>8} {'cum base':>9} "
                   f"{'cum new':>8} {'Δ cum':>8}  function")
        for c in shown:
            click.echo(f"{100 * c.base_flat:8.2f}% {100 * c.new_flat:7.2f}% "
                       f"{c.flat_delta_pp:+6.2f}pp {100 * c.base_cum:8.2f}% "
                       f"{100 * c.new_cum:7.2f}% {c.cum_delta_pp:+6.2f}pp  {c.name}")
        if output:
            click.echo(f"wrote {output}")
    bad = {k: v for k, v in failures.items() if v}
    if bad:
        detail = "; ".join(f"{k}: " + ", ".join(f"{c.name}" for c in v[:3]) for k, v in bad.items())
        raise CheckFailed(f"profile check failed: {detail}",
                          hint="the table shows each function's change in share (pp)")


@profile.command("capture", context_settings={"ignore_unknown_options": False})
@click.argument("target", nargs=-1)
@click.option("--duration", "-d", type=POSITIVE_DURATION, default=None,
              help="How long to sample [default: 30s for a PID or URL; a command: until it "
                   "exits].")
@click.option("--rate", "rate_hz", type=click.IntRange(1, 10_000), default=99, show_default=True,
              help="Samples per second.")
@click.option("--mode", type=click.Choice(["cpu", "wall", "offcpu"]), default="cpu",
              show_default=True, help="On-CPU time, wall-clock time, or off-CPU (blocked) time.")
@click.option("--backend", type=click.Choice(["auto", "perf", "bpftrace", "py-spy", "pprof"]),
              default="auto", show_default=True, help="Profiler to use; auto says which it chose.")
@click.option("--pprof", "pprof_url", default=None, metavar="URL",
              help="A Go service with net/http/pprof: CPU over the duration, plus heap, allocs, "
                   "goroutine, mutex and block snapshots.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
              help="Profile file (.pb.gz pprof, .json speedscope, .folded). Default: "
                   "profile-TARGET-TIME.pb.gz.")
@click.option("--call-graph", type=click.Choice(["auto", "fp", "dwarf"]), default="auto",
              show_default=True, help="perf: frame pointers, DWARF, or fp with DWARF fallback.")
@click.option("--native", is_flag=True, help="py-spy: include native (C/C++/Cython) frames.")
@click.option("--gil", is_flag=True, help="py-spy: only samples holding the GIL.")
@click.option("--subprocesses", is_flag=True, help="py-spy: follow child processes too.")
@click.option("--nonblocking/--blocking", default=None,
              help="py-spy: read the target while it runs (the default), or pause it for "
                   "each sample (slower for the target, biased towards system calls; what "
                   "--native needs).")
@click.option("--offcpu-sample", "offcpu_sample", type=click.IntRange(1, 1000), default=1,
              show_default=True, metavar="N",
              help="bpftrace off-CPU time: take stacks at 1 in N of the target's switch-outs, "
                   "chosen at random, and count each N times (an estimate that costs the "
                   "target less; 1: every switch, exact).")
@click.option("--top", "top_n", type=click.IntRange(min=0), default=10, show_default=True,
              help="Functions to list after the capture.")
@click.option("--slice", "slice_s", type=POSITIVE_DURATION, default=None,
              help="Continuous profiling of a PID: store a profile every SLICE on a new run's "
                   "timeline (read ranges back with `perflab profile export RUN`).")
@store_option
@json_option
@click.pass_context
def capture_cmd(ctx: click.Context, *, target: tuple[str, ...], duration: float | None,
                rate_hz: int, mode: CaptureMode, backend: str, pprof_url: str | None,
                output: str | None, call_graph: str, native: bool, gil: bool,
                subprocesses: bool, nonblocking: bool | None, offcpu_sample: int,
                top_n: int, slice_s: float | None,
                store_path: str | None, as_json: bool) -> int:
    """Profile a running process (PID), a command (after --) or a Go service (--pprof URL)."""
    from perflab.profile import (  # noqa: PLC0415  # noqa: PLC0415
        CaptureRequest,
        capture,
        check_backend_mode,
        target_of_command,
        target_of_pid,
        write_profile,
    )

    check_backend_mode(backend, mode)
    if offcpu_sample > 1 and (mode == "cpu" or backend not in ("auto", "bpftrace")):
        raise InvalidValue("--offcpu-sample samples bpftrace's off-CPU probe",
                           hint="--mode offcpu, or --mode wall --backend bpftrace")
    if native and nonblocking:
        raise InvalidValue("py-spy reads native frames only while the target is paused",
                           hint="drop --nonblocking (with --native, py-spy pauses the target)")
    nonblocking = not native if nonblocking is None else nonblocking
    is_command = bool(ctx.meta.get("perflab.profile.command"))
    if pprof_url:
        if target:
            raise InvalidValue("give either --pprof URL or a PID/command, not both")
        tgt = None
        label = "pprof"
    elif not target:
        raise InvalidValue("nothing to profile",
                           hint="perflab profile PID | perflab profile -- CMD ARGS | "
                                "perflab profile --pprof URL")
    elif not is_command and len(target) == 1 and target[0].isdigit():
        tgt = target_of_pid(int(target[0]))
        label = target[0]
    elif not is_command:
        raise InvalidValue(f"not a PID: {' '.join(target)}",
                           hint="to run a command, put it after --: perflab profile -- CMD ARGS")
    else:
        tgt = target_of_command(list(target))
        label = Path(target[0]).name
    if duration is None and (tgt is None or tgt.pid is not None):
        duration = 30.0
    if slice_s is not None:
        if tgt is None or tgt.pid is None:
            raise InvalidValue("--slice profiles a running process: give a PID")
        return _continuous(tgt.pid, duration=duration or 30.0, slice_s=slice_s,
                           rate_hz=rate_hz, mode=mode, backend=backend,
                           nonblocking=nonblocking, offcpu_sample=offcpu_sample,
                           store_path=store_path, as_json=as_json)
    req = CaptureRequest(target=tgt, duration_s=duration, rate_hz=rate_hz, mode=mode,
                         backend=backend, pprof_url=pprof_url, call_graph=call_graph,
                         native=native, gil=gil, subprocesses=subprocesses,
                         nonblocking=nonblocking, offcpu_sample=offcpu_sample)
    from perflab.profile import choose_backend  # noqa: PLC0415

    chosen, reason = choose_backend(req)
    if offcpu_sample > 1 and chosen != "bpftrace":  # auto's py-spy for a Python wall profile
        raise InvalidValue(f"--offcpu-sample samples bpftrace's off-CPU probe, not {chosen}'s",
                           hint="--mode wall --backend bpftrace")
    if not as_json:
        what = tgt.label if tgt is not None else pprof_url
        span = f"for {duration:g}s" if duration is not None else "until it exits"
        click.echo(f"profiling {what} ({mode}) with {chosen} {span}: {reason}", err=True)
    result = capture(req)
    import time as _time  # noqa: PLC0415

    out = Path(output) if output else Path(
        f"profile-{label}-{_time.strftime('%Y%m%d-%H%M%S')}.pb.gz")
    write_profile(result.profile, out)
    extra_files = {}
    for kind, extra in result.extra_profiles.items():
        path = out.with_name(out.name.split(".")[0] + f".{kind}.pb.gz")
        write_profile(extra, path)
        extra_files[kind] = str(path)
    _report_capture(result, out, extra_files, top_n=top_n, as_json=as_json, mode=mode,
                    duration=duration, rate_hz=rate_hz)
    return 130 if result.interrupted else 0


def _report_capture(result: Any, out: Path, extra_files: dict[str, str], *, top_n: int,
                    as_json: bool, mode: CaptureMode, duration: float | None, rate_hz: int) -> None:
    from perflab.profile import TopOptions, top  # noqa: PLC0415

    prof = result.profile
    index = prof.sample_index(None)
    total = prof.total(index)
    samples = prof.total(0) if prof.sample_types[0].unit == "count" else len(prof.samples)
    counted = f"{samples} samples"
    if mode == "offcpu" or not samples:
        samples = len(prof.samples)
        counted = f"{samples} stacks"
    rows = top(prof, TopOptions(node_count=top_n)).rows if total and top_n else []
    notes = list(result.notes)
    if not total:
        notes.append("no samples: the target did not run on a CPU while sampled "
                     "(idle or blocked? try --mode wall or --mode offcpu)")
    if as_json:
        doc: ProfileCaptureDoc = {
            "schema": "perflab.profile-capture/1",
            "backend": result.backend, "reason": result.reason, "mode": mode,
            "duration_s": duration, "rate_hz": rate_hz, "output": str(out),
            "sample_type": prof.sample_types[index].type, "unit": prof.sample_types[index].unit,
            "total": total, "samples": samples, "notes": notes,
            "exited_early": result.exited_early, "interrupted": result.interrupted,
            "extra_files": extra_files,
            "top": [{"name": r.name, "flat": r.flat, "cum": r.cum,
                     "flat_pct": float(r.flat_pct.strip().rstrip("%")),
                     "cum_pct": float(r.cum_pct.strip().rstrip("%"))} for r in rows],
        }
        emit_doc(doc)
        return
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {out} ({counted}, {prof.sample_types[index].type} "
               f"{_fmt_value(total, prof.sample_types[index].unit)}, backend {result.backend})")
    for kind, path in extra_files.items():
        click.echo(f"wrote {path} ({kind})")
    if rows:
        click.echo(f"{'flat':>10} {'flat%':>6} {'cum':>10} {'cum%':>6}  function")
        for r in rows:
            click.echo(f"{r.flat_text:>10} {r.flat_pct} {r.cum_text:>10} {r.cum_pct}  {r.name}")
        click.echo(f"flame graph: perflab flame {out} -o {out.name.split('.')[0]}.html")


def _continuous(pid: int, *, duration: float, slice_s: float, rate_hz: int, mode: str,
                backend: str, nonblocking: bool, offcpu_sample: int, store_path: str | None,
                as_json: bool) -> int:
    """A run of kind ``profile`` whose timeline holds a profile slice every ``slice_s``."""
    import time  # noqa: PLC0415

    from perflab.profile import ContinuousProfiler, StoreSink  # noqa: PLC0415

    store = open_store(store_path)
    try:
        run = store.create_run("profile", f"profile {pid}",
                               meta={"pid": pid, "slice_s": slice_s, "mode": mode})
        profiler = ContinuousProfiler(pid, sink=StoreSink(str(store.path), run.id),
                                      slice_s=slice_s, rate_hz=rate_hz, mode=mode,
                                      backend=backend, nonblocking=nonblocking,
                                      offcpu_sample=offcpu_sample)
        if not as_json:
            click.echo(f"run {run.id}: profiling PID {pid} for {duration:g}s in slices of "
                       f"{slice_s:g}s", err=True)
        profiler.start()
        interrupted = False
        try:
            end = time.monotonic() + duration
            while profiler.running and time.monotonic() < end:
                time.sleep(0.1)
        except KeyboardInterrupt:
            interrupted = True
        profiler.stop()
        status: Literal["ok", "failed", "interrupted"] = (
            "interrupted" if interrupted else
            ("failed" if profiler.errors and not profiler.slices else "ok"))
        store.finish_run(run.id, status, meta_update={"slices": profiler.slices})
        notes = profiler.notes + profiler.errors
        if as_json:
            doc: ProfileContinuousDoc = {
                "schema": "perflab.profile-continuous/1",
                "run": run.id, "pid": pid, "slices": profiler.slices, "slice_s": slice_s,
                "status": status, "notes": notes}
            emit_doc(doc)
        else:
            for n in notes:
                click.echo(f"note: {n}", err=True)
            click.echo(f"run {run.id}: {profiler.slices} profile slices stored; "
                       f"perflab profile export {run.id} --from 0s --to {slice_s:g}s -o x.pb.gz")
    finally:
        store.close()
    if profiler.errors and not profiler.slices:
        from perflab.errors import TargetError  # noqa: PLC0415

        raise TargetError(profiler.errors[0], hint="run `perflab profile PID` to see why")
    return 130 if interrupted else 0


@profile.command("export")
@click.argument("run_ref")
@click.option("--from", "from_s", type=DURATION, default=None,
              help="Start of the range, from the run's start (e.g. 30s).")
@click.option("--to", "to_s", type=DURATION, default=None, help="End of the range.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), required=True,
              help="Profile file (.pb.gz, .json, .folded), or .html/.svg for a flame graph.")
@store_option
@json_option
def export_cmd(*, run_ref: str, from_s: float | None, to_s: float | None, output: str,
               store_path: str | None, as_json: bool) -> None:
    """The profile of a time range of a run (its slices merged), as a file or flame graph."""
    from perflab.profile import (  # noqa: PLC0415
        profile_of_range,
        tree_of,
        write_profile,
    )

    store = open_store(store_path, create=False)
    try:
        run = store.run(run_ref if not run_ref.isdigit() else int(run_ref))
        start = None if from_s is None else run.started_ns + round(from_s * 1e9)
        end = None if to_s is None else run.started_ns + round(to_s * 1e9)
        prof = profile_of_range(store, run.id, start, end)
    finally:
        store.close()
    out = Path(output)
    index = prof.sample_index(None)
    st = prof.sample_types[index]
    if out.suffix.lower() in (".html", ".svg"):
        _write_graph(tree_of(prof, index), out, title=f"run {run.id} {from_s or 0:g}s-"
                     f"{'end' if to_s is None else f'{to_s:g}s'}", unit=st.unit,
                     summary=f"{st.type}: {_fmt_value(prof.total(index), st.unit)}",
                     diff=False, icicle=False)
    else:
        write_profile(prof, out)
    if as_json:
        doc: ProfileExportDoc = {
            "schema": "perflab.profile-export/1",
            "run": run.id, "output": str(out), "sample_type": st.type, "unit": st.unit,
            "total": prof.total(index), "from_s": from_s, "to_s": to_s}
        emit_doc(doc)
    else:
        total = _fmt_value(prof.total(index), st.unit)
        click.echo(f"wrote {out} (run {run.id}, {st.type} {total})")
