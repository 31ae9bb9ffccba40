"""``perflab chaos``: fault injection. ``chaos proxy`` serves the Toxiproxy-compatible API;
``chaos run`` and ``chaos validate`` take Chaos Toolkit experiments."""

from __future__ import annotations

from pathlib import Path

import click

from perflab.cli._chaos_serve import DEFAULT_API_LISTEN
from perflab.cli._common import json_option, open_store, store_option
from perflab.cli.serve import _server_class, bind, parse_listen
from perflab.errors import UsageError


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
def proxy(*, listen: str, config: Path | None, token_file: str | None,
          allowed_hosts: tuple[str, ...]) -> None:
    """Serve the Toxiproxy HTTP API; proxies listen on and connect to loopback only.

    \b
    Toxics: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data,
    and perflab's http_error (status codes by route, share or first N requests) and
    http_latency (latency by route);
    any toxic may take "duration": "30s", after which it removes itself.
    """
    from perflab.chaos import ChaosServer, read_config  # noqa: PLC0415  # lazy: fast --help
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
    sock = bind(host, port)
    server = ChaosServer(sock, token=token, allowed_hosts=allowed_hosts, populate=populate,
                         server_class=_server_class())
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"perflab chaos proxy: Toxiproxy API on http://{shown}:{server.port}/ "
               "(Ctrl-C stops)")
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
    """A chaos run's resilience: steady state before and after, each fault's broken checks
    and time to recover."""
    import json  # noqa: PLC0415

    from perflab.chaos import render_resilience, resilience  # noqa: PLC0415

    store = open_store(store_path, create=False)
    try:
        doc = resilience(store, int(run_ref) if run_ref.isdigit() else run_ref)
    finally:
        store.close()
    click.echo(json.dumps(doc, indent=2) if as_json else render_resilience(doc))
