"""``perflab report RUN``: one self-contained HTML file with the run's charts and tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from perflab.cli._common import emit_doc, json_option, open_store, store_option
from perflab.units import format_size

if TYPE_CHECKING:
    from perflab.report import ReportDoc


@click.command("report")
@click.argument("run_ref", metavar="RUN")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: perflab-report-<run id>.html here).")
@store_option
@json_option
def report(run_ref: str, output: str | None, store_path: str | None, as_json: bool) -> None:
    """Write the HTML report of RUN (an id, a name, or `last`): opens offline, from file://."""
    from perflab.report import write_report  # noqa: PLC0415  # lazy: keeps --help fast

    with open_store(store_path, create=False) as store:
        run = store.run(run_ref)
        path = Path(output) if output else Path(f"perflab-report-{run.id}.html")
        written = write_report(store, run.id, path)
    size = written.stat().st_size
    if as_json:
        doc: ReportDoc = {"schema": "perflab.report/1", "run_id": run.id,
                          "path": str(written.resolve()), "bytes": size}
        emit_doc(doc)
    else:
        click.echo(f"wrote {written} ({format_size(size)}): run {run.id} {run.name}")
