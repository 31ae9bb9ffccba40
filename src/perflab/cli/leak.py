"""``perflab leak PID|URL``: does this live process leak memory, how fast, and where?
(``perflab memcheck`` lives in cli/memcheck.py.)"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from perflab.cli._common import POSITIVE_DURATION, emit_json, json_option, open_store, store_option
from perflab.errors import EXIT_CHECK_FAILED, InvalidValue, NoSuchProcess, NotFound
from perflab.units import format_size, parse_size, printable

if TYPE_CHECKING:
    from perflab.store import Store


def _target(spec: str, pid: int | None) -> tuple[int | None, str | None]:
    if spec.startswith(("http://", "https://")):
        return pid, spec
    if spec.isascii() and spec.isdigit() and 0 < int(spec) < 2**31:
        if pid is not None:
            raise InvalidValue("--pid goes with a URL target, not a PID",
                               hint="perflab leak http://127.0.0.1:6060 --pid 4242")
        return int(spec), None
    raise InvalidValue(f"expected a PID or a URL, not {printable(spec[:80])!r}",
                       hint="perflab leak 4242, or perflab leak http://127.0.0.1:6060 (a Go "
                            "service with net/http/pprof)")


@click.command("leak")
@click.argument("target")
@click.option("-d", "--duration", type=POSITIVE_DURATION, default="5m", show_default=True,
              help="How long to watch.")
@click.option("-i", "--interval", type=POSITIVE_DURATION, default="5s", show_default=True,
              help="Time between samples.")
@click.option("--warmup", type=POSITIVE_DURATION, default="30s", show_default=True,
              help="Leave out samples taken while the process is younger than this.")
@click.option("--min-growth", default="1MiB", show_default=True, metavar="SIZE",
              help="Growth over the watch below this is not a leak (noise, a few pages).")
@click.option("--pid", type=int, default=None,
              help="With a URL: the service's PID, for RSS/PSS and its memory limit "
                   "(default: the process listening on the URL's port here, if any).")
@click.option("--top", type=click.IntRange(1, 200), default=10, show_default=True,
              help="How many growing allocation sites to show.")
@click.option("--memray/--no-memray", default=None,
              help="Name a Python process's sites through memray attach, with native frames "
                   "(default: when it has no debug agent and memray is installed).")
@click.option("--run", "run_ref", default=None, metavar="ID",
              help="Record into this run (default: a run of kind leak of its own).")
@store_option
@json_option
def leak(*, target: str, duration: float, interval: float, warmup: float, min_growth: str,
         pid: int | None, top: int, memray: bool | None, run_ref: str | None,
         store_path: str | None, as_json: bool) -> int:
    """Watch PID (or a Go service's URL) and decide whether it leaks; exit 1 when it does.

    RSS and PSS from smaps; a Go service's heap in use and its heap profile by allocation site;
    a Python process's tracemalloc through the debug agent (perflab run --debug), or memray
    attach when it has none; a native process (C, C++, Rust) through bpftrace uprobes on libc's
    malloc and free (as root). The sites are ranked by growth, not size.
    """
    from perflab.debug import LeakOptions, LeakRecorder, LeakTarget, run_watch  # noqa: PLC0415

    pid_, url = _target(target, pid)
    if url is not None and pid_ is None:
        from perflab.debug import pid_listening_on  # noqa: PLC0415

        pid_ = pid_listening_on(url)  # for RSS/PSS and the cgroup limit, when it is local
    if pid_ is not None and not Path(f"/proc/{pid_}").exists():
        raise NoSuchProcess(pid_)
    options = LeakOptions(duration_s=duration, interval_s=interval, warmup_s=warmup,
                          min_growth=float(parse_size(min_growth)), top=top, memray=memray)
    leak_target = LeakTarget(pid=pid_, url=url)
    store = open_store(store_path)
    try:
        run_id, own = _run_for(store, run_ref, leak_target, options)
        labels = {"pid": str(pid_)} if pid_ is not None else {"url": url or ""}
        recorder = LeakRecorder(store, run_id, labels)
        if not as_json:
            click.echo(f"perflab leak: watching {leak_target.label} for "
                       f"{duration:g} s, every {interval:g} s (run {run_id}) ...", err=True)
        try:
            report, seen = run_watch(leak_target, options, on_sample=recorder.sample)
        except BaseException:
            if own:
                store.finish_run(run_id, "failed")
            raise
        start = seen.times[0] if seen.times else None
        recorder.finish(report, start=start, end=seen.times[-1] if seen.times else None)
        report["run"] = {"id": run_id}
        if own:
            store.finish_run(run_id, "ok", meta_update={"verdict": report["verdict"]})
    finally:
        store.close()
    if as_json:
        emit_json(report["schema"], {k: v for k, v in report.items() if k != "schema"})
    else:
        _print(report)
    return EXIT_CHECK_FAILED if report["verdict"] == "leak" else 0


def _run_for(store: Store, run_ref: str | None, target: Any,
             options: Any) -> tuple[int, bool]:
    if run_ref is not None:
        try:
            return store.run(int(run_ref) if run_ref.isdigit() else run_ref).id, False
        except NotFound as exc:
            raise NotFound(f"no run {printable(run_ref[:80])}",
                           hint="list them with perflab runs") from exc
    run = store.create_run("leak", f"leak-{target.pid or target.url}", meta={
        "target": {"pid": target.pid, "url": target.url}, "duration_s": options.duration_s,
        "interval_s": options.interval_s})
    return run.id, True


def _print(report: dict[str, Any]) -> None:
    verdict = report["verdict"]
    line = f"verdict: {verdict.upper()}: {report['reason']}"
    click.echo(click.style(line, fg="red" if verdict == "leak" else None, bold=True))
    if verdict == "leak":
        limit = report["limit"]
        rate = f"growth: {report['growth_mb_per_h']:.3g} MB/h"
        if limit and limit["hours"] is not None:
            rate += (f"; {limit['kind']} limit {format_size(limit['bytes'])} "
                     f"({format_size(limit['headroom_bytes'])} left) in "
                     f"{limit['hours']:.3g} h")
        click.echo(rate)
    click.echo("")
    click.echo(f"{'series':<22} {'verdict':<16} {'first':>10} {'last':>10} {'per hour':>11}")
    for s in report["series"]:
        fmt = format_size if s["unit"] == "bytes" else (lambda v: f"{v:,.0f}")
        click.echo(f"{s['title']:<22} {s['verdict']:<16} {fmt(s['first']):>10} "
                   f"{fmt(s['last']):>10} {fmt(s['growth_per_h']):>11}")
    if report["sites"]:
        click.echo("")
        click.echo(f"allocation sites growing fastest ({report['site_source']}, "
                   f"{report['snapshots']} snapshots):")
        for site in report["sites"]:
            where = f"{site['file']}:{site['line']}" if site["file"] else ""
            click.echo(f"  {site['rank']:>2}. {printable(site['function'])}  "
                       f"+{format_size(site['growth_bytes'])} "
                       f"({site['growth_mb_per_h']:.3g} MB/h, "
                       f"{site['objects_growth']:+,} objects)  {printable(where)}")
    for note in report["notes"]:
        click.echo(f"note: {note}", err=True)
    if report["ended_early"]:
        click.echo(f"note: the watch ended early: {report['ended_early']}", err=True)
    click.echo(f"run {report['run']['id']}: perflab show {report['run']['id']}", err=True)


@click.command("memcheck", context_settings={"ignore_unknown_options": True})
@click.option("--tool", type=click.Choice(["memcheck", "massif"]), default="memcheck",
              show_default=True, help="valgrind's tool: errors and leaks, or the heap profile.")
@click.option("--asan-log", type=click.Path(dir_okay=True), default=None, metavar="FILE",
              help="Read an AddressSanitizer/LeakSanitizer log instead of running a command.")
@click.option("--flame", "flame_path", type=click.Path(dir_okay=False), default=None,
              metavar="FILE", help="massif: write the peak snapshot's flame graph here (HTML).")
@click.option("--run", "run_ref", default=None, metavar="ID",
              help="Record into this run (default: a run of kind memcheck of its own).")
@store_option
@json_option
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
def memcheck(*, tool: str, asan_log: str | None, flame_path: str | None, run_ref: str | None,
             store_path: str | None, as_json: bool, cmd: tuple[str, ...]) -> int:
    """Run CMD under valgrind (memcheck or massif), or read an ASan log; errors grouped by
    stack, the leak summary, massif's peak as a flame graph. Exit 1 on definite leaks or
    invalid accesses.

    perflab memcheck -- ./prog ARGS | perflab memcheck --tool massif -- ./prog |
    perflab memcheck --asan-log asan.txt
    """
    from perflab.debug import memcheck_asan_log, memcheck_command, store_memcheck  # noqa: PLC0415

    if asan_log is not None and cmd:
        raise InvalidValue("give a command or --asan-log, not both",
                           hint="perflab memcheck -- ./prog, or perflab memcheck --asan-log FILE")
    if asan_log is None and not cmd:
        raise InvalidValue("nothing to check", hint="perflab memcheck -- ./prog ARGS, or "
                                                    "perflab memcheck --asan-log FILE")
    flame = None
    if asan_log is not None:
        doc = memcheck_asan_log(asan_log)
    else:
        # with --json the program's own output goes to stderr: stdout carries the document
        doc, flame = memcheck_command(list(cmd), tool=tool,
                                      stdout=sys.stderr if as_json else None)
    if flame is not None and flame_path is not None:
        Path(flame_path).write_text(flame)
    store = open_store(store_path)
    try:
        if run_ref is not None:
            run_id, own = _run_for(store, run_ref, None, None)
        else:
            what = Path(cmd[0]).name if cmd else Path(asan_log or "").name
            run_id = store.create_run("memcheck", f"memcheck-{what}", meta={
                "source": doc["source"], "command": doc["command"]}).id
            own = True
        store_memcheck(store, run_id, doc, flame)
        if own:
            store.finish_run(run_id, "ok", meta_update={"failing": doc["failing"]})
    finally:
        store.close()
    doc["run"] = {"id": run_id}
    if as_json:
        emit_json(doc["schema"], {k: v for k, v in doc.items() if k != "schema"})
    else:
        _print_memcheck(doc, flame_path)
    return EXIT_CHECK_FAILED if doc["failing"] else 0


def _print_memcheck(doc: dict[str, Any], flame_path: str | None) -> None:
    if doc["massif"] is None:
        click.echo(f"{doc['source']}: {doc['errors']} error(s) in {len(doc['groups'])} group(s)")
    for group in doc["groups"]:
        mark = "FAIL" if group["fails"] else "    "
        size = f", {format_size(group['bytes'])} in {group['blocks']} block(s)" \
            if group["bytes"] else ""
        click.echo(f"{mark} {group['count']:>5} x {printable(group['kind'])}: "
                   f"{printable(group['what'][:100])}{size}")
        for frame in group["stack"][:6]:
            where = f" ({frame['file']}:{frame['line']})" if frame["file"] else ""
            click.echo(f"            {printable(frame['function'])}{printable(where)}")
    summary = doc["leak_summary"]
    if doc["massif"] is None:
        click.echo(f"leaks: definitely {format_size(summary['definitely_lost'])}, indirectly "
                   f"{format_size(summary['indirectly_lost'])}, possibly "
                   f"{format_size(summary['possibly_lost'])}")
    if doc["crash"]:
        click.echo(f"crash: {doc['crash']['signal']}: {doc['crash']['what']}")
    massif = doc["massif"]
    if massif:
        click.echo(f"massif: peak heap {format_size(massif['peak_bytes'])} at snapshot "
                   f"{massif['peak_snapshot']} ({massif['peak_time']} {massif['time_unit']})"
                   + (f"; flame graph: {flame_path}" if flame_path else ""))
    for note in doc["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo(f"run {doc['run']['id']}: perflab show {doc['run']['id']}", err=True)
