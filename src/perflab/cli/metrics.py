"""Metrics and alerting commands: ``promql``, ``scrape``, ``metrics import``, ``rules check``,
``rules test``, ``alerts``, ``slo``; and the ``perflab serve`` options that feed the hub."""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from perflab.cli._common import emit_doc, json_option, open_store, store_option
from perflab.errors import CheckFailed, InvalidValue

if TYPE_CHECKING:
    from collections.abc import Callable

    import perflab.metrics as pm  # the contracts of the documents below: pm.PromqlDoc ...
    from perflab.metrics import HubOptions, InstantResult


def _duration_ms(text: str, what: str) -> int:
    from perflab.metrics import parse_duration_ms  # noqa: PLC0415

    return parse_duration_ms(text, what=what)


def _time_ms(text: str | None) -> int:
    if text is None:
        return time.time_ns() // 1_000_000
    from perflab.metrics import parse_time_ms  # noqa: PLC0415

    try:
        return parse_time_ms(text)
    except Exception:
        from perflab.units import parse_time_ns  # noqa: PLC0415

        return parse_time_ns(text) // 1_000_000


# -- perflab serve's options ---------------------------------------------------------------------

def serve_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The metrics options of ``perflab serve`` (their values reach ``hub_options``)."""
    options = [
        click.option("--scrape", "metrics_scrape", type=click.Path(dir_okay=False),
                     default=None, metavar="FILE",
                     help="A Prometheus configuration: scrape its scrape_configs, load its "
                          "rule_files, send to its alertmanagers, remote_write."),
        click.option("--rules", "metrics_rules", multiple=True, metavar="FILE",
                     help="A Prometheus rule file to evaluate (repeatable; globs allowed)."),
        click.option("--eval-interval", "metrics_eval_interval", default="5s",
                     show_default=True, metavar="DURATION",
                     help="How often rule groups are evaluated (Prometheus: 1m)."),
        click.option("--scrape-interval", "metrics_scrape_interval", default=None,
                     metavar="DURATION",
                     help="How often the hub stores its own node_* metrics (default: the "
                          "configuration's scrape_interval, 5s)."),
        click.option("--no-default-rules", "metrics_no_default_rules", is_flag=True,
                     help="Do not load perflab's default rules for this machine."),
        click.option("--alertmanager", "metrics_alertmanager", multiple=True, metavar="URL",
                     help="Send alerts to this Alertmanager (API v2; repeatable)."),
        click.option("--webhook", "metrics_webhook", multiple=True, metavar="URL",
                     help="Send alerts straight to this webhook in Alertmanager's webhook "
                          "format (grouped by alertname; repeatable)."),
        click.option("--slo", "metrics_slo", multiple=True, type=click.Path(dir_okay=False),
                     metavar="SPEC",
                     help="An SLO spec (perflab slo): evaluate its burn-rate rules and alerts "
                          "and show it on the SLOs page (repeatable)."),
        click.option("--notify-config", "metrics_notify_config",
                     type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     help="Alertmanager's route timings and inhibit_rules for the --webhook "
                          "notifications (Alertmanager's YAML format)."),
        click.option("--for-outage-tolerance", "metrics_for_outage_tolerance", default="1h",
                     show_default=True, metavar="DURATION",
                     help="Restore the pending and firing alerts of before a restart that "
                          "were active within this long (0s: do not restore)."),
        click.option("--for-grace-period", "metrics_for_grace_period", default="10s",
                     show_default=True, metavar="DURATION",
                     help="A restored alert that was about to fire waits at least this long "
                          "(and rules with a shorter `for` are not restored)."),
        click.option("--remote-write", "metrics_remote_write", multiple=True, metavar="URL",
                     help="Also push collected metrics to this remote-write URL (a "
                          "Prometheus, Mimir, VictoriaMetrics; repeatable)."),
        click.option("--metrics-retention", "--storage.tsdb.retention.time",
                     "metrics_retention", default="15d", show_default=True,
                     metavar="DURATION", help="Delete samples the hub collected once they are "
                     "older than this (0: keep them all)."),
        click.option("--metrics-retention-size", "--storage.tsdb.retention.size",
                     "metrics_retention_size", default=None, metavar="SIZE",
                     help="Delete the oldest samples the hub collected while the store is "
                          "over this size, spans aside (e.g. 2GB)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def hub_options(values: dict[str, Any], *, proc_root: str = "/proc") -> HubOptions:
    """``HubOptions`` from ``perflab serve``'s ``metrics_*`` values, every file checked now
    (a bad one is exit 2 before the hub starts)."""
    from perflab.metrics import (  # noqa: PLC0415
        HubOptions,
        expand_globs,
        load_config,
        load_notify_config,
        load_rule_file,
        load_slo,
    )

    config_path = values.get("metrics_scrape")
    config = load_config(config_path) if config_path else None
    rules = tuple(values.get("metrics_rules") or ())
    for path in expand_globs((*rules, *(config.rule_files if config else ()))):
        load_rule_file(path)
    for url in (*values.get("metrics_alertmanager", ()), *values.get("metrics_webhook", ()),
                *values.get("metrics_remote_write", ())):
        if not url.startswith(("http://", "https://")):
            raise InvalidValue(f"{url!r} is not an http(s) URL",
                               hint="like http://127.0.0.1:9093")
    slo_files = tuple(values.get("metrics_slo") or ())
    for path in slo_files:
        load_slo(path)
    notify_path = values.get("metrics_notify_config")
    if notify_path:
        load_notify_config(notify_path)
    eval_ms = _duration_ms(values.get("metrics_eval_interval") or "5s", "--eval-interval")
    scrape = values.get("metrics_scrape_interval")
    if eval_ms <= 0:
        raise InvalidValue("--eval-interval must be longer than zero")
    from perflab.units import parse_size  # noqa: PLC0415

    keep = (values.get("metrics_retention") or "15d").strip()
    retention_ms = 0 if keep == "0" else _duration_ms(keep, "--metrics-retention")
    size = values.get("metrics_retention_size")
    if size and parse_size(size) <= 0:
        raise InvalidValue(f"--metrics-retention-size {size!r} keeps nothing",
                           hint="give a size like 2GB, or leave it out for no size limit")
    return HubOptions(
        config_path=config_path, rule_files=rules, eval_interval_ms=eval_ms,
        scrape_interval_ms=_duration_ms(scrape, "--scrape-interval") if scrape else None,
        default_rules=not values.get("metrics_no_default_rules", False),
        alertmanagers=tuple(values.get("metrics_alertmanager") or ()),
        webhooks=tuple(values.get("metrics_webhook") or ()), notify_config=notify_path,
        slo_files=slo_files,
        for_outage_tolerance_ms=_duration_ms(
            values.get("metrics_for_outage_tolerance") or "1h", "--for-outage-tolerance"),
        for_grace_period_ms=_duration_ms(values.get("metrics_for_grace_period") or "10s",
                                         "--for-grace-period"),
        remote_write=tuple(values.get("metrics_remote_write") or ()), proc_root=proc_root,
        retention_ns=retention_ms * 1_000_000 if retention_ms > 0 else None,
        retention_bytes=parse_size(size) if size else None)


# -- perflab promql --------------------------------------------------------------------------------

def _labels_text(labels: Any) -> str:
    from perflab.units import printable  # noqa: PLC0415

    d = dict(labels)
    name = d.pop("__name__", "")
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(d.items()))
    return printable(f"{name}{{{inner}}}" if inner or not name else name)


@click.command("promql")
@click.argument("expr")
@click.option("--time", "at", default=None, metavar="TIME",
              help="Evaluate at this time (Unix seconds, RFC 3339, or `1h` ago); default now.")
@click.option("--range", "span", default=None, metavar="DURATION",
              help="A range query over this long, up to --time (or now).")
@click.option("--step", default=None, metavar="DURATION",
              help="Step of a range query (default: the range / 250, at least 1s).")
@store_option
@json_option
def promql(*, expr: str, at: str | None, span: str | None, step: str | None,
           store_path: str | None, as_json: bool) -> None:
    """Evaluate a PromQL expression over every run in the store.

    \b
      perflab promql 'up'
      perflab promql 'sum by (mode) (rate(node_cpu_seconds_total[1m]))' --range 1h
    """
    from perflab.metrics import (  # noqa: PLC0415  # noqa: PLC0415
        StoreQueryable,
        format_time,
        format_value,
        instant_query,
        parse,
        range_query,
    )

    node = parse(expr)
    end = _time_ms(at)
    with open_store(store_path, create=False) as store:
        q = StoreQueryable(store)
        if span is None:
            result = instant_query(q, node, end)
            if as_json:
                emit_doc(_instant_json(result, end))
                return
            _print_instant(result)
            return
        range_ms = _duration_ms(span, "--range")
        step_ms = _duration_ms(step, "--step") if step else max(1000, range_ms // 250)
        start = end - range_ms
        matrix = range_query(q, node, start, end, step_ms)
    if as_json:
        doc: pm.PromqlDoc = {"schema": "perflab.promql/1", "resultType": "matrix",
                          "start": start / 1000, "end": end / 1000, "step": step_ms / 1000,
                          "result": [{"metric": dict(labels), "values": [
                              (format_time(t), format_value(v)) for t, v in points]}
                              for labels, points in matrix]}
        emit_doc(doc)
        return
    _print_matrix(matrix)


def _instant_json(result: InstantResult, t: int) -> pm.PromqlDoc:
    from perflab.metrics import format_time, format_value  # noqa: PLC0415

    if result.type == "scalar":
        return {"schema": "perflab.promql/1", "resultType": "scalar",
                "result": (format_time(t), format_value(result.scalar))}
    if result.type == "string":
        return {"schema": "perflab.promql/1", "resultType": "string",
                "result": (format_time(t), result.string)}
    if result.type == "matrix":
        return {"schema": "perflab.promql/1", "resultType": "matrix", "result": [
            {"metric": dict(labels), "values": [(format_time(ts), format_value(v))
                                                for ts, v in points]}
            for labels, points in result.matrix]}
    return {"schema": "perflab.promql/1", "resultType": "vector", "result": [
        {"metric": dict(labels), "value": (format_time(t), format_value(v))}
        for labels, v in result.vector]}


def _print_instant(result: Any) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from perflab.metrics import format_value  # noqa: PLC0415

    if result.type in ("scalar", "string"):
        click.echo(format_value(result.scalar) if result.type == "scalar" else result.string)
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("series", overflow="fold")
    if result.type == "matrix":
        table.add_column("samples (time=value)", overflow="fold")
        for labels, points in result.matrix:
            table.add_row(_labels_text(labels),
                          " ".join(f"{t / 1000:g}={format_value(v)}" for t, v in points))
    else:
        table.add_column("value", justify="right")
        for labels, value in result.vector:
            table.add_row(_labels_text(labels), format_value(value))
    if not (result.vector or result.matrix):
        click.echo("(no series)")
        return
    Console(soft_wrap=True, highlight=False).print(table)


def _print_matrix(matrix: list[Any]) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from perflab.metrics import format_value  # noqa: PLC0415

    if not matrix:
        click.echo("(no series)")
        return
    table = Table(box=None, pad_edge=False)
    for col, justify in (("series", "left"), ("points", "right"), ("min", "right"),
                         ("mean", "right"), ("max", "right"), ("last", "right")):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for labels, points in matrix:
        values = [v for _, v in points if not math.isnan(v)]
        if values:
            stats = [min(values), sum(values) / len(values), max(values), points[-1][1]]
        else:
            stats = [math.nan] * 4
        table.add_row(_labels_text(labels), str(len(points)),
                      *(format_value(round(v, 6) if math.isfinite(v) else v) for v in stats))
    Console(soft_wrap=True, highlight=False).print(table)


# -- perflab scrape -------------------------------------------------------------------------------

@click.command("scrape")
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False),
              metavar="FILE", help="A Prometheus configuration with scrape_configs.")
@click.option("--duration", default=None, metavar="DURATION",
              help="Stop after this long (default: until Ctrl-C).")
@click.option("--name", default=None, help="Name of the run (default: scrape HOST).")
@store_option
@json_option
def scrape(*, config_path: str, duration: str | None, name: str | None,
           store_path: str | None, as_json: bool) -> None:
    """Scrape Prometheus and OpenMetrics targets into the store, without the hub.

    Samples land in a new run of kind ``scrape``; query them with ``perflab promql``.
    """
    import socket  # noqa: PLC0415

    from perflab.metrics import (  # noqa: PLC0415
        MetricSink,
        ScrapeManager,
        load_config,
        register_kinds,
    )
    from perflab.store import IngestQueue  # noqa: PLC0415

    config = load_config(config_path)
    if not config.scrape_configs:
        raise InvalidValue(f"{config_path} has no scrape_configs",
                           hint="add a scrape_configs section with at least one job")
    limit_s = _duration_ms(duration, "--duration") / 1000 if duration else None
    store = open_store(store_path)
    run = store.create_run("scrape", name or f"scrape {socket.gethostname()}",
                           meta={"config": config_path})
    queue = IngestQueue(store.path)
    register_kinds(queue)
    sink = MetricSink(queue, lambda: run.id)
    manager = ScrapeManager(config, sink)
    queue.start()
    manager.start()
    targets = sum(len(g.targets) for c in config.scrape_configs for g in c.static)
    if not as_json:
        click.echo(f"perflab scrape: {targets} static target(s) of {len(config.scrape_configs)} "
                   f"job(s) into run {run.id} of {store.path}; Ctrl-C stops", err=True)
    stopped = False
    status = "ok"
    old = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        deadline = time.monotonic() + limit_s if limit_s else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline -
                                                                  time.monotonic())))
    except KeyboardInterrupt:
        stopped = True
        status = "ok"
    finally:
        signal.signal(signal.SIGTERM, old)
        manager.stop()
        stats = queue.stop()
        states, _ = manager.snapshot()
        # no rollups now: a scrape run may hold a million series (minutes of work after
        # Ctrl-C); readers build them when a chart asks, as for the hub's metrics run
        store.finish_run(run.id, status, rollup=False)
        store.close()
    doc: pm.ScrapeDoc = {
           "schema": "perflab.scrape/1",
           "run_id": run.id, "samples_written": stats.written, "samples_refused": stats.refused,
           "interrupted": stopped,
           "targets": [{"job": s.target.job, "url": s.target.url, "health": s.health,
                        "last_error": s.last_error, "last_samples": s.last_samples,
                        "duplicates": s.duplicates} for s in states]}
    if as_json:
        emit_doc(doc)
        return
    for t in doc["targets"]:
        line = f"  {t['health']:<7} {t['job']}  {t['url']}  {t['last_samples']} samples"
        if t["last_error"]:
            line += f"  ({t['last_error']})"
        click.echo(line)
    click.echo(f"run {run.id}: {stats.written} samples written")


# -- perflab metrics import ----------------------------------------------------------------------

@click.group("metrics")
def metrics() -> None:
    """Metrics files: import Prometheus text or OpenMetrics into the store."""


@metrics.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--name", default=None, help="Name of the run (default: the file's name).")
@store_option
@json_option
def import_cmd(*, path: str, name: str | None, store_path: str | None, as_json: bool) -> None:
    """Import Prometheus text or OpenMetrics with timestamps (what ``promtool tsdb
    create-blocks-from openmetrics`` reads) into a new run, for backfill and tests."""
    from perflab.metrics import import_exposition  # noqa: PLC0415

    with open_store(store_path) as store:
        result = import_exposition(store, path, name=name)
    doc: pm.MetricsImportDoc = {
        "schema": "perflab.metrics-import/1", "run_id": result.run_id,
        "samples": result.samples, "series": result.series, "first_ns": result.first_ns,
        "last_ns": result.last_ns, "format": "openmetrics" if result.openmetrics else "prometheus"}
    if as_json:
        emit_doc(doc)
        return
    click.echo(f"imported {result.samples} samples of {result.series} series into run "
               f"{result.run_id} ({doc['format']})")


# -- perflab rules ---------------------------------------------------------------------------------

@click.group("rules")
def rules() -> None:
    """Prometheus rule files: check them, unit-test them (promtool's formats)."""


@rules.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@json_option
def rules_check(*, paths: tuple[str, ...], as_json: bool) -> None:
    """Check rule files as ``promtool check rules`` does (exit 1 when one is bad)."""
    from perflab.errors import InvalidFile  # noqa: PLC0415
    from perflab.metrics import RuleFileError, load_rule_file  # noqa: PLC0415

    files: list[pm.RulesCheckFile] = []
    for path in paths:
        try:
            groups = load_rule_file(path)
        except RuleFileError as exc:
            files.append({"path": path, "ok": False, "rules": 0, "problems": exc.problems})
        except InvalidFile as exc:
            files.append({"path": path, "ok": False, "rules": 0, "problems": [exc.message]})
        else:
            files.append({"path": path, "ok": True, "problems": [],
                          "rules": sum(len(g.rules) for g in groups)})
    failed = [f for f in files if not f["ok"]]
    if as_json:
        check_doc: pm.RulesCheckDoc = {"schema": "perflab.rules-check/1", "files": files}
        emit_doc(check_doc)
    else:
        for f in files:
            click.echo(f"Checking {f['path']}")
            if f["ok"]:
                click.echo(f"  SUCCESS: {f['rules']} rules found")
            else:
                click.echo("  FAILED:")
                for p in f["problems"]:
                    click.echo(f"{f['path']}: {p}")
            click.echo()
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(files)} rule file(s) have problems",
                          hint="fix what is listed above")


@rules.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@json_option
def rules_test(*, paths: tuple[str, ...], as_json: bool) -> None:
    """Run rule unit tests as ``promtool test rules`` does (exit 1 when one fails)."""
    from perflab.metrics import run_test_file  # noqa: PLC0415

    results = [run_test_file(p) for p in paths]
    if as_json:
        test_doc: pm.RulesTestDoc = {"schema": "perflab.rules-test/1", "files": [
            {"path": r.path, "ok": r.ok, "errors": r.errors} for r in results]}
        emit_doc(test_doc)
    else:
        for r in results:
            click.echo(f"Unit Testing:  {r.path}")
            if r.ok:
                click.echo("  SUCCESS")
            else:
                click.echo("  FAILED:", err=True)
                for e in r.errors:
                    click.echo(e, err=True)
                    click.echo()
            click.echo()
    failed = [r for r in results if not r.ok]
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(results)} rule test file(s) failed",
                          hint="the differences are listed above")


# -- perflab alerts -------------------------------------------------------------------------

@click.group("alerts")
def alerts() -> None:
    """Alerts: what fires now, and silences (with amtool's matchers)."""


@alerts.command("ls")
@store_option
@json_option
def alerts_ls(*, store_path: str | None, as_json: bool) -> None:
    """Alerts pending or firing now, as the hub's rules last wrote them (ALERTS)."""
    from perflab.metrics import StoreQueryable, instant_query  # noqa: PLC0415

    now = time.time_ns() // 1_000_000
    with open_store(store_path, create=False) as store:
        result = instant_query(StoreQueryable(store), "ALERTS", now)
    items = [{k: v for k, v in labels if k != "__name__"} for labels, _ in result.vector]
    if as_json:
        alerts_doc: pm.AlertsDoc = {"schema": "perflab.alerts/1", "alerts": items}
        emit_doc(alerts_doc)
        return
    if not items:
        click.echo("no alert is pending or firing")
    for a in items:
        rest = ", ".join(f"{k}={v}" for k, v in sorted(a.items())
                         if k not in ("alertname", "alertstate"))
        click.echo(f"{a.get('alertstate', ''):<8} {a.get('alertname', '')}  {rest}")


@alerts.group("silence")
def silence() -> None:
    """Silences: alerts matching all of a silence's matchers are not sent."""


@silence.command("add")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--duration", default="1h", show_default=True, metavar="DURATION",
              help="How long the silence lasts.")
@click.option("--comment", default="", help="Why.")
@click.option("--author", default=None, help="Who (default: $USER).")
@store_option
@json_option
def silence_add(*, matchers: tuple[str, ...], duration: str, comment: str, author: str | None,
                store_path: str | None, as_json: bool) -> None:
    """Add a silence: ``perflab alerts silence add alertname=HighLatency 'job=~"api.*"'``."""
    import getpass  # noqa: PLC0415

    from perflab.metrics import parse_matcher  # noqa: PLC0415
    from perflab.store import add_silence  # noqa: PLC0415

    parsed = [parse_matcher(m) for m in matchers]
    length = _duration_ms(duration, "--duration")
    if length <= 0:
        raise InvalidValue("--duration must be longer than zero")
    now = time.time_ns()
    who = author if author is not None else getpass.getuser()
    with open_store(store_path) as store:
        sid = add_silence(store, [m.to_list() for m in parsed], now, now + length * 1_000_000,
                          created_by=who, comment=comment)
    if as_json:
        silence_doc: pm.SilenceDoc = {
            "schema": "perflab.silence/1", "id": sid,
            "matchers": [(m.name, m.op, m.value) for m in parsed],
            "starts_ns": now, "ends_ns": now + length * 1_000_000}
        emit_doc(silence_doc)
        return
    click.echo(str(sid))


@silence.command("ls")
@click.option("--all", "show_all", is_flag=True, help="Also expired silences.")
@store_option
@json_option
def silence_ls(*, show_all: bool, store_path: str | None, as_json: bool) -> None:
    """List the active silences."""
    from perflab.metrics import matcher_tuple  # noqa: PLC0415
    from perflab.store import silences  # noqa: PLC0415
    from perflab.units import format_timestamp, printable  # noqa: PLC0415

    now = time.time_ns()
    with open_store(store_path, create=False) as store:
        rows = silences(store)
    shown = [s for s in rows if show_all or s.starts_ns <= now < (s.expired_ns or s.ends_ns)]
    if as_json:
        silences_doc: pm.SilencesDoc = {"schema": "perflab.silences/1", "silences": [
            {"id": s.id, "matchers": [matcher_tuple(m) for m in s.matchers],
             "starts_ns": s.starts_ns, "ends_ns": s.expired_ns or s.ends_ns,
             "created_by": s.created_by, "comment": s.comment,
             "active": s.starts_ns <= now < (s.expired_ns or s.ends_ns)} for s in shown]}
        emit_doc(silences_doc)
        return
    if not shown:
        click.echo("no active silence")
    for s in shown:
        text = " ".join(f'{n}{o}"{v}"' for n, o, v in s.matchers)
        click.echo(printable(f"{s.id}  {text}  until {format_timestamp(s.expired_ns or s.ends_ns)}"
                             f"  {s.created_by}  {s.comment}"))


@silence.command("expire")
@click.argument("silence_id", type=int)
@store_option
def silence_expire(*, silence_id: int, store_path: str | None) -> None:
    """End a silence now."""
    from perflab.errors import NotFound  # noqa: PLC0415
    from perflab.store import expire_silence  # noqa: PLC0415

    with open_store(store_path) as store:
        if not expire_silence(store, silence_id, time.time_ns()):
            raise NotFound(f"no active silence {silence_id}",
                           hint="list them with `perflab alerts silence ls`")


# -- perflab slo ----------------------------------------------------------------------------

@click.group("slo")
def slo() -> None:
    """Service level objectives: multi-window, multi-burn-rate alert rules from a spec."""


@slo.command("rules")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the rule file here (default: print it).")
def slo_rules(*, spec: str, output: str | None) -> None:
    """Generate the recording and alerting rules of an SLO spec (Google SRE workbook)."""
    from perflab.metrics import generate_rules, load_slo  # noqa: PLC0415

    text = generate_rules(load_slo(spec))
    if output is None:
        sys.stdout.write(text)
        return
    from pathlib import Path  # noqa: PLC0415

    Path(output).write_text(text)
    click.echo(f"wrote {output}")


@slo.command("status")
@click.argument("spec", type=click.Path(dir_okay=False))
@store_option
@json_option
def slo_status(*, spec: str, store_path: str | None, as_json: bool) -> None:
    """Error budget left and burn rates of each SLO of a spec, from the store."""
    from perflab.metrics import (  # noqa: PLC0415
        StoreQueryable,
        load_slo,
    )
    from perflab.metrics import slo_status as status  # noqa: PLC0415

    slos = load_slo(spec)
    with open_store(store_path, create=False) as store:
        docs = [status(s, StoreQueryable(store), time.time_ns() // 1_000_000) for s in slos]
    if as_json:
        slo_doc: pm.SloStatusDoc = {"schema": "perflab.slo-status/1", "slos": docs}
        emit_doc(slo_doc)
        return
    for d in docs:
        budget = d["budget_remaining"]
        shown = "n/a" if budget is None else f"{budget * 100:.1f}%"
        click.echo(f"{d['name']}: objective {d['objective'] * 100:g}% over {d['window']}, "
                   f"error budget left {shown}")
        for w, rate in d["burn_rates"].items():
            click.echo(f"  burn rate {w}: {'n/a' if rate is None else f'{rate:.2f}'}")


def json_dumps(doc: Any) -> str:
    return json.dumps(doc)
