"""``perflab chaos``: fault injection. ``chaos proxy`` serves the Toxiproxy-compatible API;
``chaos run`` and ``chaos validate`` take Chaos Toolkit experiments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import click

from perflab.cli._chaos_serve import DEFAULT_API_LISTEN
from perflab.cli._common import (
    DURATION,
    POSITIVE_DURATION,
    emit_doc,
    json_option,
    open_store,
    store_option,
)
from perflab.cli.serve import _server_class, bind, parse_listen
from perflab.errors import EXIT_INTERRUPTED, UsageError


@click.group()
def chaos() -> None:
    """Chaos engineering: a Toxiproxy-compatible fault proxy."""


@chaos.command("proxy")
@click.option("--listen", default=DEFAULT_API_LISTEN, show_default=True, metavar="HOST:PORT",
              help="Address of the API. Anything but loopback needs --token-file.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
              default=None, metavar="FILE",
              help="Create the proxies of this JSON file at start (Toxiproxy's -config).")
@click.option("--token-file", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Require 'Authorization: Bearer TOKEN' (the file's first line).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Also answer requests for this Host name (repeatable).")
@click.option("--run", "run_id", type=int, default=None, metavar="RUN",
              help="Put each toxic's band on this run instead of a new run of kind chaos.")
@click.option("--follow-load", is_flag=True,
              help="Also put each toxic's band on every load run running in the store "
                   "(start the proxy, then perflab load: its timeline shows the faults).")
@store_option
def proxy(*, listen: str, config: Path | None, token_file: str | None,
          allowed_hosts: tuple[str, ...], run_id: int | None, follow_load: bool,
          store_path: str | None) -> None:
    """Serve the Toxiproxy HTTP API; proxies listen on and connect to loopback only.

    \b
    Toxics: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data,
    and perflab's http_error (status codes by route, share or first N requests),
    http_latency (latency by route), http_corrupt (responses' body bytes, a header or the
    status line broken by route) and http_slow_body (bodies sent slowly by route);
    any toxic may take "duration": "30s", after which it removes itself.
    Each toxic is a band on the run (--run, or a new chaos run) from its addition to its
    removal.
    """
    from perflab.chaos import ChaosServer, FaultBands, read_config  # noqa: PLC0415  # lazy
    from perflab.serving import (  # noqa: PLC0415
        HostRule,
        read_token_file,
        require_token_off_loopback,
    )

    host, port = parse_listen(listen)
    token = None if token_file is None else read_token_file(token_file)
    require_token_off_loopback(host, token, where=f"{host}:{port}",
                               what="and change the proxies, i.e. inject faults")
    HostRule.for_listen(host, allowed_hosts)
    populate = None if config is None else read_config(config)
    with open_store(store_path) as store:
        if run_id is not None:
            store.run(run_id)  # a wrong --run is refused before anything listens
        bands = FaultBands(store.path, run_id, follow_load=follow_load)
    sock = bind(host, port)
    bands.ensure_run()
    server = ChaosServer(sock, token=token, allowed_hosts=allowed_hosts, populate=populate,
                         server_class=_server_class(), bands=bands)
    shown = f"[{host}]" if ":" in host else host
    also = " and on the load runs running" if follow_load else ""
    click.echo(f"perflab chaos proxy: Toxiproxy API on http://{shown}:{server.port}/ "
               f"(toxics as bands on run {bands.run_id}{also}; Ctrl-C stops)")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    if server.failure is not None:
        raise UsageError(f"{config}: {server.failure.message}",
                         hint=server.failure.hint or "fix the proxy in the file")
    click.echo("perflab chaos proxy: stopped", err=True)


# -- process, resource and network faults (perflab.chaos.faults) ---------------------------------

@chaos.command("inject")
@click.argument("kind", metavar="KIND")
@click.option("--pid", "pids", type=int, multiple=True, metavar="PID",
              help="The target process (repeatable).")
@click.option("--match", "matches", multiple=True, metavar="TEXT",
              help="Every process whose name or command line contains TEXT, as record's.")
@click.option("-d", "--duration", type=DURATION, default="0s", show_default=False,
              help="How long the fault lasts (every kind but kill needs it).")
@click.option("--signal", "sig", default=None, metavar="NAME",
              help="kill: the signal (default KILL); restart: the stop signal (default TERM).")
@click.option("--restart-cmd", default=None, metavar="CMD",
              help="restart: the command that starts the service again, at the fault's end.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="cpu, io: hog processes.")
@click.option("--size", default=None, metavar="SIZE",
              help="memory: bytes to hold; disk: bytes to fill (512M, 2G).")
@click.option("--path", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="disk, io: the directory whose filesystem to fill or stress.")
@click.option("--engine", type=click.Choice(["auto", "stress-ng", "builtin"]), default="auto",
              show_default=True, help="cpu, memory, io: stress-ng when installed, else built in.")
@click.option("--headroom", type=click.IntRange(0), default=0, show_default=True,
              help="fds: descriptors the target may still open.")
@click.option("--run", "run_id", type=int, default=None, metavar="RUN",
              help="Put the fault's band on this run (a recording, a load test) instead of "
                   "a new run of kind chaos.")
@store_option
@json_option
def inject(*, kind: str, pids: tuple[int, ...], matches: tuple[str, ...], duration: float,
           sig: str | None, restart_cmd: str | None, workers: int, size: str | None,
           path: Path | None, engine: Literal["auto", "stress-ng", "builtin"], headroom: int,
           run_id: int | None, store_path: str | None, as_json: bool) -> int:
    """Inject one process or resource fault for --duration, then roll it back.

    \b
    KIND: kill | stop (SIGSTOP, SIGCONT at the end) | restart (--restart-cmd)
          cpu | memory (--size) | io (--path) hogs, in the target's cgroup where it has one
          disk (--path, --size: a fill file) | fds (RLIMIT_NOFILE lowered to what it has open)

    Rolled back at expiry, on Ctrl-C or SIGTERM (exit 130), and by a watchdog process when
    perflab itself is killed. The fault is a band on the run (--run, or a new chaos run).
    """
    from perflab.chaos.faults import InjectSpec  # noqa: PLC0415  # lazy: fast --help
    from perflab.chaos.faults import inject as run_fault  # noqa: PLC0415
    from perflab.units import parse_size  # noqa: PLC0415

    spec = InjectSpec(kind=kind, duration_s=duration, pids=pids, matches=matches, signal=sig,
                      restart_cmd=restart_cmd, workers=workers,
                      size=None if size is None else parse_size(size), path=path,
                      engine=engine, headroom=headroom)
    return _fault_command(run_fault, spec, store_path, run_id=run_id, as_json=as_json,
                          verb="inject")


def _fault_command(run: Callable[..., Mapping[str, Any]], spec: object,
                   store_path: str | None, *, run_id: int | None, as_json: bool,
                   verb: str) -> int:
    """Run one fault (inject or net) and report its end; 130 when interrupted, 1 when a
    rollback step failed."""
    store = open_store(store_path)
    store.close()

    def applied(what: str) -> None:  # the mechanism, as soon as the fault is on
        click.echo(f"perflab chaos {verb}: {what}", err=True)

    doc = run(spec, store.path, run_id=run_id, on_applied=applied)
    problems: list[str] = doc["problems"]
    if as_json:
        emit_doc(doc)
    else:
        for note in doc.get("notes", []):
            click.echo(f"note: {note}", err=True)
        for problem in problems:
            click.echo(f"perflab: rollback step failed: {problem}", err=True)
        state = "rolled back" if not problems else "rolled back with problems (above)"
        click.echo(f"fault {'interrupted' if doc['status'] == 'aborted' else 'ended'}: "
                   f"{state}; band on run {doc['run_id']}")
        if "restarted_pid" in doc:
            click.echo(f"restarted: PID {doc['restarted_pid']}")
    if doc["status"] == "aborted":
        return EXIT_INTERRUPTED
    return 1 if problems else 0


@chaos.command("net")
@click.option("--loss", default=None, metavar="PCT", help="Drop this share of packets (1%).")
@click.option("--rate", default=None, metavar="RATE",
              help="Limit the link to this rate (1mbit, 500kbit; a namespace only).")
@click.option("--partition", is_flag=True, help="Drop every packet.")
@click.option("--delay", type=DURATION, default=None,
              help="Delay packets (netem), or through the fault proxy with --proxy.")
@click.option("--jitter", type=DURATION, default=None,
              help="With --delay: vary it by up to this much (netem, or the proxy's jitter).")
@click.option("--reorder", default=None, metavar="PCT",
              help="With --delay: send this share at once, out of order (netem only).")
@click.option("--duplicate", default=None, metavar="PCT",
              help="Duplicate this share of packets (netem only).")
@click.option("--corrupt", default=None, metavar="PCT",
              help="Flip a bit in this share of packets (netem only).")
@click.option("--gemodel", default=None, metavar="P,R[,1-H[,1-K]]",
              help="Bursty loss, Gilbert-Elliott (netem only), as tc-netem's loss gemodel.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="On lo: only this port's traffic (required there).")
@click.option("--netns", "netns", default=None, metavar="NAME",
              help="Act in this namespace of `perflab chaos netns create`.")
@click.option("--iface", default="lo", show_default=True,
              help="The interface outside a namespace: lo only.")
@click.option("--proxy", default=None, metavar="NAME",
              help="--delay: a proxy of the fault proxy's API carrying the traffic.")
@click.option("--proxy-api", default="http://127.0.0.1:8474", show_default=True, metavar="URL",
              help="The fault proxy's API (perflab chaos proxy).")
@click.option("-d", "--duration", type=POSITIVE_DURATION, required=True,
              help="How long the fault lasts.")
@click.option("--run", "run_id", type=int, default=None, metavar="RUN",
              help="Put the fault's band on this run instead of a new chaos run.")
@store_option
@json_option
def net(*, loss: str | None, rate: str | None, partition: bool, delay: float | None,
        jitter: float | None, reorder: str | None, duplicate: str | None, corrupt: str | None,
        gemodel: str | None, port: int | None, netns: str | None, iface: str,
        proxy: str | None, proxy_api: str, duration: float, run_id: int | None,
        store_path: str | None, as_json: bool) -> int:
    """One network fault on lo (--port) or in a perflab namespace, then removed. Root only.

    \b
    --loss: netem where the kernel has it, else nftables (numgen random)
    --partition: nftables drop rules, both directions
    --rate: tbf on both ends of the namespace's veth pair
    --delay: netem in a namespace; without netem, the fault proxy's latency toxic (--proxy)
    --duplicate, --corrupt, --gemodel, --delay with --reorder: netem in a namespace only
    """
    from perflab.chaos.faults import NetSpec, net_fault  # noqa: PLC0415  # lazy: fast --help
    from perflab.units import parse_percent  # noqa: PLC0415

    chosen = [n for n, v in (("loss", loss), ("rate", rate), ("partition", partition or None),
                             ("delay", delay), ("duplicate", duplicate), ("corrupt", corrupt),
                             ("gemodel", gemodel)) if v is not None]
    if len(chosen) != 1:
        raise UsageError("give one fault: --loss, --rate, --partition, --delay, --duplicate, "
                         "--corrupt or --gemodel",
                         hint="e.g. perflab chaos net --loss 1% --netns web --duration 30s")

    def share(text: str | None) -> float | None:
        return None if text is None else parse_percent(text)

    spec = NetSpec(fault=chosen[0],  # type: ignore[arg-type]  # one of NetFault's names
                   duration_s=duration, loss=share(loss),
                   rate_bps=None if rate is None else _bits_per_s(rate),
                   delay_s=delay, jitter_s=jitter, reorder=share(reorder),
                   duplicate=share(duplicate), corrupt=share(corrupt),
                   gemodel=None if gemodel is None else tuple(
                       parse_percent(v) for v in gemodel.split(",")),
                   port=port, netns=netns, iface=iface, proxy=proxy, proxy_api=proxy_api)
    return _fault_command(net_fault, spec, store_path, run_id=run_id, as_json=as_json,
                          verb="net")


def _bits_per_s(text: str) -> int:
    """tc's rate words: 1mbit, 500kbit, 100kbps (bytes), 2gbit."""
    import re  # noqa: PLC0415

    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmg]?)(bit|bps)", text.strip().lower())
    if not m:
        raise UsageError(f"invalid rate {text!r}", hint="write it like 1mbit, 500kbit or 100kbps")
    scale = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}[m.group(2)]
    value = float(m.group(1)) * scale * (8 if m.group(3) == "bps" else 1)
    if value < 8_000:
        raise UsageError(f"rate {text!r} is too low", hint="at least 8kbit")
    return round(value)


@chaos.group("netns")
def netns_group() -> None:
    """Network namespaces with a veth pair, where network faults may act (root only)."""


@netns_group.command("create")
@click.argument("name")
@json_option
def netns_create(*, name: str, as_json: bool) -> None:
    """Create namespace perflab-NAME, linked to this one by a link-local /30 and nothing else."""
    from perflab.chaos.faults import create_netns  # noqa: PLC0415

    doc = create_netns(name)
    if as_json:
        emit_doc({"schema": "perflab.chaos-netns/1", "namespaces": [doc]})
        return
    click.echo(f"namespace {doc['netns']}: inside {doc['ns_addr']} ({doc['ns_if']}), "
               f"this side {doc['host_addr']} ({doc['host_if']})")
    click.echo(f"start a service inside: perflab chaos netns run {name} -- CMD")


@netns_group.command("delete")
@click.argument("name")
def netns_delete(*, name: str) -> None:
    """Delete namespace perflab-NAME and its veth pair (and the processes' network)."""
    from perflab.chaos.faults import delete_netns  # noqa: PLC0415

    delete_netns(name)
    click.echo(f"deleted namespace perflab-{name}")


@netns_group.command("list")
@json_option
def netns_list(*, as_json: bool) -> None:
    """The namespaces perflab created."""
    from perflab.chaos.faults import list_netns  # noqa: PLC0415

    found = list_netns()
    if as_json:
        emit_doc({"schema": "perflab.chaos-netns/1", "namespaces": found})
        return
    for doc in found:
        click.echo(f"{doc['name']}  {doc['netns']}  inside {doc['ns_addr']}  "
                   f"this side {doc['host_addr']}")


@netns_group.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def netns_run(*, name: str, command: tuple[str, ...]) -> None:
    """Run CMD inside namespace perflab-NAME (it replaces this process)."""
    import os  # noqa: PLC0415

    from perflab.chaos.faults import netns_exec_argv  # noqa: PLC0415
    from perflab.errors import ToolMissing  # noqa: PLC0415

    argv = netns_exec_argv(name, list(command))
    try:
        os.execvp(argv[0], argv)  # noqa: S606  # the user's own command
    except FileNotFoundError as exc:
        raise ToolMissing("ip", install="apt install iproute2") from exc


@chaos.command("rollback")
@store_option
@json_option
def rollback(*, store_path: str | None, as_json: bool) -> int:
    """Undo faults whose controller and watchdog both died (their journals are left)."""
    from perflab.chaos.faults import rollback_orphans  # noqa: PLC0415

    store = open_store(store_path)
    store.close()
    doc = rollback_orphans(store.path)
    if as_json:
        emit_doc(doc)
    else:
        click.echo(f"rolled back {len(doc['rolled_back'])} fault(s)"
                   + (f"; {len(doc['running'])} still running" if doc["running"] else ""))
        for problem in doc["problems"]:
            click.echo(f"perflab: rollback step failed: {problem}", err=True)
    return 1 if doc["problems"] else 0


@chaos.command("monkey")
@click.option("--match", "matches", multiple=True, required=True, metavar="TEXT",
              help="The replicas: processes whose name or command line contains TEXT.")
@click.option("--every", type=POSITIVE_DURATION, default="5m", show_default=True,
              help="Time between rounds.")
@click.option("--kill", "kill_count", type=click.IntRange(1), default=1, show_default=True,
              help="Processes terminated per round.")
@click.option("--min-healthy", type=click.IntRange(0), default=1, show_default=True,
              help="Never leave fewer running than this (the round is skipped).")
@click.option("--until", type=POSITIVE_DURATION, required=True,
              help="Stop the schedule after this long.")
@click.option("--signal", "sig", default="KILL", show_default=True, metavar="NAME")
@click.option("--seed", type=int, default=None, help="Seed of the random choice (replays).")
@store_option
@json_option
def monkey(*, matches: tuple[str, ...], every: float, kill_count: int, min_healthy: int,
           until: float, sig: str, seed: int | None, store_path: str | None,
           as_json: bool) -> int:
    """Chaos Monkey: terminate random replicas on a schedule, with a guard, recorded."""
    from perflab.chaos.faults import MonkeySpec  # noqa: PLC0415
    from perflab.chaos.faults import monkey as run_monkey  # noqa: PLC0415

    spec = MonkeySpec(matches=matches, every_s=every, until_s=until, kill=kill_count,
                      min_healthy=min_healthy, signal=sig, seed=seed)
    store = open_store(store_path)
    store.close()
    doc = run_monkey(spec, store.path,
                     say=lambda line: click.echo(f"perflab chaos monkey: {line}", err=True))
    if as_json:
        emit_doc(doc)
    else:
        click.echo(f"monkey {'interrupted' if doc['status'] == 'aborted' else 'done'}: "
                   f"{len(doc['killed'])} terminated, {doc['skipped']} rounds skipped by "
                   f"--min-healthy; events on run {doc['run_id']}")
    return EXIT_INTERRUPTED if doc["status"] == "aborted" else 0


def _load_experiment(path: Path) -> dict[str, object]:
    from perflab.chaos import read_experiment, validate_experiment  # noqa: PLC0415

    exp = read_experiment(path)
    validate_experiment(exp, str(path))
    return exp


@chaos.command("validate")
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
def validate(*, experiment: Path) -> None:
    """Check a Chaos Toolkit experiment (exit 2 names the field at fault)."""
    _load_experiment(experiment)
    click.echo(f"{experiment}: a valid experiment")


@chaos.command("run")
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--journal-path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("journal.json"), show_default=True,
              help="Where to write the journal (Chaos Toolkit's format).")
@click.option("--dry", type=click.Choice(["probes", "actions", "activities", "pause"]),
              default=None, help="Do not run these (as chaos run --dry).")
@click.option("--var", "variables", multiple=True, metavar="NAME[:TYPE]=VALUE",
              help="Override a configuration value (repeatable).")
@click.option("--var-file", "var_files", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="JSON/YAML with configuration and secrets overrides (repeatable).")
@click.option("--rollback-strategy", default="default", show_default=True,
              type=click.Choice(["default", "always", "never", "deviated"]))
@click.option("--hypothesis-strategy", default="default", show_default=True,
              type=click.Choice(["default", "before-method-only", "after-method-only",
                                 "during-method-only", "continuously", "skip"]))
@store_option
@click.option("--hypothesis-frequency", default=1.0, show_default=True, metavar="SECONDS",
              type=click.FloatRange(min=0.01), help="Period of the checks during the method.")
def run(*, experiment: Path, journal_path: Path, dry: str | None, variables: tuple[str, ...],
        var_files: tuple[Path, ...], rollback_strategy: str, hypothesis_strategy: str,
        hypothesis_frequency: float, store_path: str | None) -> int:
    """Run a Chaos Toolkit experiment; exit 1 deviated or failed, 130 interrupted."""
    import json  # noqa: PLC0415

    from perflab.chaos import (  # noqa: PLC0415
        ExperimentContext,
        ExperimentOptions,
        experiment_exit_code,
        parse_vars,
        read_var_file,
        record_journal,
        resolve_configuration,
        resolve_secrets,
        run_experiment,
    )

    exp = _load_experiment(experiment)
    store = open_store(store_path)  # a damaged store is refused before anything runs
    config: dict[str, object] = {}
    secrets: dict[str, object] = {}
    for var_file in var_files:
        more_config, more_secrets = read_var_file(var_file)
        config.update(more_config)
        secrets.update(more_secrets)
    config.update(parse_vars(variables))
    ctx = ExperimentContext(resolve_configuration(exp, config), resolve_secrets(exp, secrets),
                            dry=dry)
    options = ExperimentOptions(dry=dry, rollback_strategy=rollback_strategy,
                                hypothesis_strategy=hypothesis_strategy,
                                frequency_s=hypothesis_frequency)
    try:
        journal = run_experiment(exp, ctx, options)
        run_id = record_journal(store, journal)
    finally:
        store.close()
    try:
        journal_path.write_text(json.dumps(journal, indent=2, default=str), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{journal_path}: cannot write the journal: {exc}",
                         hint="give a writable --journal-path") from exc
    before = journal["steady_states"]["before"]
    status = "deviated" if journal["deviated"] else (
        "steady state not met before the method" if before is not None and not before[
            "steady_state_met"] else journal["status"])
    click.echo(f"perflab chaos run: {status} (run {run_id}, journal: {journal_path})")
    return experiment_exit_code(journal)  # main() exits with it



@chaos.command("report")
@click.argument("run_ref", metavar="RUN")
@store_option
@json_option
def report(*, run_ref: str, store_path: str | None, as_json: bool) -> None:
    """Resilience under each fault of RUN (a chaos experiment, a proxy's run, or a load run
    with fault bands): the load's steady state before it, the worst deviation during it (p99
    against the steady state, error rate) and the time until the load was back within the
    steady band; an experiment's hypothesis checks too."""
    import json  # noqa: PLC0415

    from perflab.chaos import render_resilience, resilience  # noqa: PLC0415

    store = open_store(store_path, create=False)
    try:
        doc = resilience(store, int(run_ref) if run_ref.isdigit() else run_ref)
    finally:
        store.close()
    click.echo(json.dumps(doc, indent=2) if as_json else render_resilience(doc))
