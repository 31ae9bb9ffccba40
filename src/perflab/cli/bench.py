"""``perflab bench``: compare benchmark results, gate CI on regressions, keep a history."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from perflab.cli._common import emit_doc, json_option, open_store, store_option
from perflab.errors import CheckFailed, InvalidValue, UsageError

if TYPE_CHECKING:
    from perflab.bench import BenchCompareGate, Correction

_FORMATS = ("text", "csv", "markdown", "json", "junit")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def bench() -> None:
    """Benchmarks: compare results with benchstat's statistics, gate CI, track history."""


@bench.command()
@click.argument("files", nargs=-1, required=True, metavar="OLD NEW [MORE...]")
@click.option("-row", "--row", "row", default=".fullname", show_default=True,
              help="Split rows by these keys (.name, .fullname, /subkey, config key).")
@click.option("-col", "--col", "col", default=".file", show_default=True,
              help="Compare across these keys (.file, /subkey, a config key like note).")
@click.option("-ignore", "--ignore", "ignore", default="",
              help="Keys to ignore when grouping.")
@click.option("-filter", "--filter", "filter_text", default="*",
              help='Use only matching results, e.g. "/format:json .unit:(ns/op OR B/op)".')
@click.option("-format", "--format", "fmt", type=click.Choice(_FORMATS), default="text",
              show_default=True, help="Output format.")
@click.option("-alpha", "--alpha", "alpha", type=float, default=0.05, show_default=True,
              help="Significance level of the U test.")
@click.option("-confidence", "--confidence", "confidence", type=float, default=0.95,
              show_default=True, help="Confidence level of the intervals.")
@click.option("--fail-on", "fail_on", default=None, metavar='"regression>5%"',
              help="Exit 1 when a change is significant AND worse than this.")
@click.option("--correction", type=click.Choice(["none", "holm"]), default="none",
              show_default=True, help="Correct p-values for many comparisons (Holm-Bonferroni).")
@json_option
def compare(*, files: tuple[str, ...], row: str, col: str, ignore: str, filter_text: str,
            fmt: str, alpha: float, confidence: float, fail_on: str | None,
            correction: Correction,
            as_json: bool) -> int:
    """Compare benchmark results: median, 95 % CI, Mann-Whitney U test, geomean.

    Reads Go benchmark output (go test -bench), pyperf, pytest-benchmark, hyperfine or perflab
    JSON. Prints the same table as benchstat. Name a column with LABEL=path.
    """
    from perflab import bench as b  # noqa: PLC0415  # lazy: keeps `perflab --help` fast
    from perflab.bench import parse_filter  # noqa: PLC0415

    if not 0 <= alpha <= 1:
        raise InvalidValue("-alpha must be in range [0, 1]", hint="the usual value is 0.05")
    if not 0 <= confidence <= 1:
        raise InvalidValue("-confidence must be in range [0, 1]", hint="the usual value is 0.95")
    gate = b.parse_gate(fail_on) if fail_on else None
    if as_json:
        fmt = "json"
    predicate = parse_filter(filter_text)
    rs = b.load(list(files))
    for problem in rs.problems:
        click.echo(str(problem), err=True)
    opts = b.Options(row=row, col=col, ignore=ignore, filter=predicate, confidence=confidence,
                     alpha=alpha)
    tables = b.build_tables(rs, opts)
    if not tables:
        raise InvalidValue("no results left to compare",
                           hint=f"the filter {filter_text!r} matched nothing")
    if gate is not None:
        # a gate explains what it could not judge; without one the text and CSV outputs stay
        # benchstat's, stderr included (the table already shows the gaps)
        _warn_one_sided(tables)
        if col == ".file" and len(set(rs.files)) > 1:
            _warn_unpaired_units(tables, sorted(set(rs.files), key=rs.files.index))
    verdicts = b.judge(tables, rs, gate, correction=correction, alpha=alpha)
    by_cell = {(v.table, v.row, v.col): v.verdict for v in verdicts}

    if fmt == "text":
        sys.stdout.write(b.to_text(tables))
    elif fmt == "csv":
        text, warnings = b.to_csv(tables)
        sys.stdout.write(text)
        sys.stderr.write(warnings)
    elif fmt == "markdown":
        sys.stdout.write(b.to_markdown(tables, by_cell))
    elif fmt == "junit":
        sys.stdout.write(b.to_junit(tables, by_cell, gate.text if gate else "none"))
    else:
        gate_json: BenchCompareGate | None = None if gate is None else {
            "text": gate.text, "kind": gate.kind, "threshold_pct": gate.threshold_pct,
            "correction": correction, "alpha": alpha,
            "tripped": [v.name for v in b.tripped(verdicts, gate)],
        }
        emit_doc(b.to_json_payload(tables, by_cell, gate=gate_json,
                                   problems=[str(p) for p in rs.problems]))

    unpaired = b.why_nothing_compared(tables) if gate is not None else None
    if unpaired is not None:
        # a gate that compared nothing must not pass: the usual cause is a typo or a key
        raise UsageError(unpaired.message, hint=unpaired.hint)
    bad = b.tripped(verdicts, gate)
    if bad:
        names = ", ".join(f"{v.name} {v.delta_pct:+.2f}%" for v in bad[:5]
                          if v.delta_pct is not None)
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise CheckFailed(f"{len(bad)} benchmark(s) tripped {gate.text if gate else ''}: "
                          f"{names}{more}",
                          hint="look at the table above; rerun with more samples if noisy")
    return 0


def _warn_one_sided(tables: Sequence[object]) -> None:
    from perflab.bench import Table  # noqa: PLC0415

    for table in tables:
        assert isinstance(table, Table)
        if len(table.cols) < 2:
            continue
        for row in table.rows:
            present = [c for c in table.cols if (row, c) in table.cells]
            if len(present) < len(table.cols):
                missing = [Table.label(c) for c in table.cols if c not in present]
                click.echo(f"perflab: warning: {Table.label(row)} [{table.unit}] is missing "
                           f"from {', '.join(missing)}", err=True)


def _warn_unpaired_units(tables: Sequence[object], files: list[str]) -> None:
    from perflab.bench import Table  # noqa: PLC0415

    for table in tables:
        assert isinstance(table, Table)
        present = {Table.label(c) for c in table.cols}
        if len(present) == 1 and len(files) > 1:
            missing = [f for f in files if f not in present]
            click.echo(f"perflab: warning: unit {table.unit} appears only in "
                       f"{', '.join(sorted(present))}; {', '.join(missing)} measured other "
                       "units, so there is nothing to compare it with", err=True)


# History and the runner live in their own modules to keep this one about comparing.
from perflab.cli._bench_disk import disk  # noqa: E402
from perflab.cli._bench_history import history, record, regressions  # noqa: E402
from perflab.cli._bench_net import net  # noqa: E402
from perflab.cli._bench_run import cmd, run, system  # noqa: E402

for _command in (record, history, regressions, run, cmd, system, net, disk):
    bench.add_command(_command)

__all__ = ["bench", "open_store", "store_option"]
