"""``perflab load capacity``: how far the service goes within its SLOs (see load/_capacity)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from perflab.cli._common import POSITIVE_DURATION, emit_doc, json_option, open_store, store_option
from perflab.errors import EXIT_INTERRUPTED, CheckFailed, UsageError
from perflab.units import format_size, parse_percent, parse_rate

if TYPE_CHECKING:
    from perflab.load import CapacityPoint, LoadCapacityDoc


@click.command("capacity")
@click.argument("url", required=False)
@click.option("-s", "--scenario", "scenario_file", type=click.Path(dir_okay=False),
              help="A Python scenario file whose open scenarios (rate=) the search drives: "
                   "their rates are scaled together, keeping the mix.")
@click.option("--threshold", "thresholds", multiple=True, metavar="SLO",
              help='An SLO each rate must meet, as perflab load takes it: "p99<200ms", '
                   '"error_rate<0.1%" (repeatable; at least one).')
@click.option("--start-rate", default="10", show_default=True,
              help="The first rate tried, /s; it doubles until a step fails.")
@click.option("--max-rate", default=None, help="Never try more than this, /s.")
@click.option("--step", "step_s", type=POSITIVE_DURATION, default="5s", show_default=True,
              help="How long each rate is held.")
@click.option("--precision", default="2%", show_default=True,
              help="Stop when the highest passing and lowest failing rates are this close.")
@click.option("--max-steps", type=click.IntRange(min=2), default=24, show_default=True)
@click.option("-c", "--connections", type=int, default=10, show_default=True,
              help="Connections opened at the start (more open as needed).")
@click.option("--max-connections", type=int, default=None,
              help="Open model: the most connections (default: 10 x --connections).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Load processes (default: the CPU count).")
@click.option("--pid", "pids", type=int, multiple=True, metavar="PID",
              help="The target's process: its CPU and memory tell which resource saturated "
                   "(repeatable).")
@click.option("--match", "matches", multiple=True, metavar="NAME",
              help="The target's processes, by a part of their name or command line "
                   "(repeatable).")
@click.option("--scale-param", type=float, default=None, metavar="N",
              help="The size the service runs at (e.g. its worker count); with knees at 3 "
                   "sizes or more, the Universal Scalability Law is fitted.")
@click.option("--timeout", type=POSITIVE_DURATION, default="10s", show_default=True)
@click.option("--name", default=None, help="Name of the run in the store.")
@click.option("--allow-remote", is_flag=True,
              help="Allow a target that is not on this machine.")
@store_option
@json_option
def capacity(  # noqa: PLR0917  # click passes every option as an argument
        url: str | None, scenario_file: str | None, thresholds: tuple[str, ...],
        start_rate: str, max_rate: str | None,
        step_s: float, precision: str, max_steps: int, connections: int,
        max_connections: int | None, workers: int | None, pids: tuple[int, ...],
        matches: tuple[str, ...], scale_param: float | None, timeout: float, name: str | None,
        allow_remote: bool, store_path: str | None, as_json: bool) -> int:
    """Find the highest arrival rate URL (or a scenario file's mix) takes within every SLO.

    Open-model steps double the rate until one misses an SLO, then bisect. The run keeps
    every step (series labelled step and rate), the knee and the latency-vs-throughput curve.
    """
    import threading  # noqa: PLC0415

    from perflab.load import CapacityOptions, WorkerPool, search_capacity  # noqa: PLC0415

    opts = CapacityOptions(
        url=url, thresholds=thresholds, start_rate=parse_rate(start_rate),
        max_rate=None if max_rate is None else parse_rate(max_rate), step_s=step_s,
        precision=parse_percent(precision), max_steps=max_steps, connections=connections,
        max_connections=max_connections, workers=workers or os.cpu_count() or 1,
        timeout_s=timeout, pids=tuple(dict.fromkeys((*pids, *_matching(matches)))),
        scale_param=scale_param, name=name, allow_remote=allow_remote,
        scenario_file=scenario_file)
    opts.validate()
    store = open_store(store_path)
    stop = threading.Event()
    try:
        with WorkerPool.prestart(opts.workers) as pool:
            result = search_capacity(opts, store=store, workers=pool, stop=stop,
                                     on_step=None if as_json else _echo_step)
    finally:
        store.close()
    doc = result.to_json()
    if as_json:
        emit_doc(doc)
    else:
        click.echo(render_capacity(doc), nl=False)
    if result.status == "aborted":
        return EXIT_INTERRUPTED
    if doc["knee"]["rate"] is None:
        raise CheckFailed("no rate met the thresholds: " + "; ".join(result.warnings),
                          hint="lower --start-rate, or check the thresholds")
    return 0


def _matching(names: tuple[str, ...]) -> list[int]:
    if not names:
        return []
    from perflab.collect import ProcessCollector  # noqa: PLC0415

    me = os.getpid()
    found = [r.pid for r in ProcessCollector(with_fds=False).refresh()
             if r.pid != me and any(n in r.name or n in r.cmdline for n in names)]
    if not found:
        raise UsageError(f"no process matches --match {' '.join(names)}",
                         hint="perflab proc lists the processes; or give --pid")
    return found


def _echo_step(p: CapacityPoint) -> None:
    verdict = "pass" if p["passed"] else "FAIL " + ", ".join(p["failed"])
    p99 = p["p99_ms"]
    click.echo(f"step {p['step']}: {p['rate']:g}/s -> {p['rps']:g}/s, p99 "
               f"{'-' if p99 is None else f'{p99:.1f}ms'}  {verdict}", err=True)


def render_capacity(doc: LoadCapacityDoc) -> str:
    knee = doc["knee"]
    what = doc["url"] if doc["scenario"] is None else f"{doc['scenario']} ({doc['url']})"
    lines = [(f"capacity of {what} (run {doc['run_id']}, {doc['search_s']:.0f}s, "
              f"{len(doc['curve'])} steps; SLOs: {', '.join(doc['thresholds'])})"), ""]
    lines.append(f"  {'rate/s':>10} {'achieved/s':>11} {'p50 ms':>9} {'p99 ms':>9} "
                 f"{'errors':>7} {'cpu %':>7} {'rss':>9}  verdict")
    for p in doc["curve"]:
        p50 = "-" if p["p50_ms"] is None else f"{p['p50_ms']:.1f}"
        p99 = "-" if p["p99_ms"] is None else f"{p['p99_ms']:.1f}"
        cpu = "-" if p["cpu_pct"] is None else f"{p['cpu_pct']:.0f}"
        rss = "-" if p["rss_bytes"] is None else format_size(p["rss_bytes"])
        lines.append(f"  {p['rate']:>10g} {p['rps']:>11g} {p50:>9} {p99:>9} "
                     f"{p['error_rate']:>7.2%} {cpu:>7} {rss:>9}  "
                     + ("pass" if p["passed"] else "FAIL " + ", ".join(p["failed"])))
    lines.append("")
    if knee["rate"] is None:
        lines.append("knee: not found (no rate met the thresholds)")
    else:
        upper = "" if knee["upper_rate"] is None else f", {knee['upper_rate']:g}/s failed"
        lines.append(f"knee: {knee['rate']:g}/s (achieved {knee['rps']:g}/s{upper}); "
                     f"saturated: {knee['resource']}")
    usl = doc["usl"]
    if usl is not None:
        lines.append(f"USL: sigma {usl['sigma']:.4g}, kappa {usl['kappa']:.4g}, lambda "
                     f"{usl['lambda']:.4g}/s (rmse {usl['rmse']:.3g}/s); predicted: "
                     + ", ".join(f"N={n:g}: {x:.0f}/s" for n, x in usl["predicted"]))
    lines.extend(f"warning: {w}" for w in doc["warnings"])
    return "\n".join(lines) + "\n"
