"""The command line: one ``main(argv) -> int`` that maps every error to its exit code.

Commands live in their own modules and are imported only when invoked, so ``perflab --help``
stays fast. To add a command, add one line to ``COMMANDS``.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import TYPE_CHECKING, Any

import click

from perflab import __version__
from perflab.errors import EXIT_INTERRUPTED, EXIT_USAGE, PerflabError

if TYPE_CHECKING:
    from collections.abc import Sequence

# name -> ("module:attribute", one-line help shown by `perflab --help` without importing it)
COMMANDS: dict[str, tuple[str, str]] = {
    "top": ("perflab.cli.top:top", "Live view: CPU, memory, PSI, disks, net, processes."),
    "proc": ("perflab.cli.proc:proc", "One process in depth: threads, memory maps, files, I/O."),
    "net": ("perflab.cli.net:net", "Sockets, listeners and the kernel's TCP counters."),
    "record": ("perflab.cli.record:record", "Record system, network and processes into a run."),
    "runs": ("perflab.cli.runs:runs", "List the runs in the store."),
    "show": ("perflab.cli.runs:show", "Summarise one run: min/mean/max/p95 per series."),
    "query": ("perflab.cli.runs:query", "Print the samples of one series of a run."),
    "store": ("perflab.cli.store:store", "The store file: check its integrity."),
    "export": ("perflab.cli.export:export", "Serve Prometheus metrics (node_exporter names)."),
    "bench": ("perflab.cli.bench:bench",
              "Benchmarks: compare with benchstat's statistics, CI gate, history, regressions."),
    "serve": ("perflab.cli.serve:serve", "Dashboard, JSON API and /metrics; records meanwhile."),
    "report": ("perflab.cli.report:report", "Write a run's self-contained HTML report."),
    "demo": ("perflab.cli.demo:demo", "Run perflab on its demo service and show what it finds."),
    "load": ("perflab.cli.load:load", "HTTP load tests: open/closed model, thresholds, scenarios."),
    "profile": ("perflab.cli.profile:profile",
                "Profile a process or command (perf, bpftrace, py-spy, Go pprof); diff profiles."),
    "pprof": ("perflab.cli.pprof:pprof", "pprof reports over any profile: top, peek."),
    "flame": ("perflab.cli.profile:flame", "Flame graph (interactive HTML or SVG) of a profile."),
    "ebpf": ("perflab.cli.ebpf:ebpf", "eBPF tools: syscalls, libcalls, offcpu, runqlat, ..."),
    "promql": ("perflab.cli.metrics:promql", "Evaluate PromQL over every run in the store."),
    "scrape": ("perflab.cli.metrics:scrape", "Scrape Prometheus targets into the store."),
    "metrics": ("perflab.cli.metrics:metrics", "Import Prometheus text or OpenMetrics files."),
    "rules": ("perflab.cli.metrics:rules", "Check and unit-test Prometheus rule files."),
    "alerts": ("perflab.cli.metrics:alerts", "Alerts firing now; silences (amtool's matchers)."),
    "slo": ("perflab.cli.metrics:slo", "SLOs: multi-window burn-rate rules, error budget."),
    "logs": ("perflab.cli.logs:logs", "Log lines: LogQL queries, files followed into the store."),
    "trace": ("perflab.cli.trace:trace", "Traces: search, show, critical path, diff, coverage."),
    "run": ("perflab.cli.run:run", "Run a command as a recorded, traced child: run -- CMD."),
    "goroutines": ("perflab.cli.debug_go:goroutines",
                   "Go goroutine dumps: groups, leaks (--diff), long waits, partial deadlocks."),
    "gotrace": ("perflab.cli.gotrace:gotrace",
                "go tool trace's blocking profiles (net, sync, syscall, sched) as flame graphs."),
    "race": ("perflab.cli.debug_go:race", "Go data races grouped by access sites: race -- CMD."),
    "stacks": ("perflab.cli.stacks:stacks",
               "Python threads' stacks, lock waits, wait-for graph and deadlocks of a PID."),
    "leak": ("perflab.cli.leak:leak",
             "Does a live process leak memory? Its rate, limit and growing sites."),
    "memcheck": ("perflab.cli.leak:memcheck",
                 "valgrind memcheck/massif or an ASan log: errors grouped by stack, leaks."),
    "chaos": ("perflab.cli.chaos:chaos", "Chaos: a Toxiproxy-compatible fault proxy."),
    "incident": ("perflab.cli.incident:incident",
                 "Incidents: capture evidence, triage, notes, runbooks, postmortem, bundle."),
    "event": ("perflab.cli.incident:event", "Record events on every timeline: deploys."),
    "capture": ("perflab.cli.capture:capture",
                "Packet capture (tcpdump) and its analysis: RTT, retransmissions, HTTP latency."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002  # click's API
        return sorted(COMMANDS)

    def get_command(  # click's API
        self, ctx: click.Context, cmd_name: str  # noqa: ARG002
    ) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
@click.version_option(__version__, prog_name="perflab")
def cli() -> None:
    """perflab: observe, stress, compare and diagnose services, on one timeline."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code instead of exiting."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result: Any = cli.main(args=args, prog_name="perflab", standalone_mode=False)
    except PerflabError as err:
        _print_error(str(err), err.hint)
        return err.exit_code
    except click.exceptions.Exit as err:
        return int(err.exit_code)
    except click.ClickException as err:
        err.show()
        return int(err.exit_code) if err.exit_code else EXIT_USAGE
    except (click.exceptions.Abort, KeyboardInterrupt):
        _print_error("interrupted", None)
        return EXIT_INTERRUPTED
    except Exception as err:
        # a query met a damaged page, or the disk filled, where no store boundary mapped it
        mapped = _store_error(err)
        if mapped is None:
            raise
        _print_error(str(mapped), mapped.hint)
        return mapped.exit_code
    except BrokenPipeError:
        # `perflab query ... | head`: the reader left; that is not an error
        sys.stderr.close()
        return 0
    if isinstance(result, int):
        return result
    return 0


def run() -> None:
    """Console-script entry point (and ``python -m perflab``'s)."""
    code = main()
    # The command is done and has closed what it opened: the interpreter's exit need not walk
    # the ~100k objects of numpy, click and the store looking for cycles (20-60 ms of CPU,
    # and of wall time after a load test's figures are printed). Finalizers and atexit
    # handlers still run.
    gc.freeze()
    sys.exit(code)


def _store_error(err: Exception) -> PerflabError | None:
    """An SQLite error about the store file (damage, a full disk) as perflab's error, or None.
    sqlite3 is looked up, not imported: `perflab --help` must not load it, and an error of a
    module never imported cannot be this one."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is None or not isinstance(err, sqlite3.Error):
        return None
    from perflab.store import store_error  # noqa: PLC0415  # only after a store was used

    return store_error(err, None)


def _print_error(message: str, hint: str | None) -> None:
    click.echo(f"perflab: error: {message}", err=True)
    if hint:
        click.echo(f"  hint: {hint}", err=True)
