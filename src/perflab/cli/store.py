"""``perflab store check``: the store file itself (its integrity, on demand)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from perflab.cli._common import emit_doc, json_option, store_option
from perflab.errors import EXIT_CHECK_FAILED, EXIT_OK
from perflab.units import format_duration, format_size

if TYPE_CHECKING:
    from perflab.store import StoreCheckDoc


@click.group("store")
def store() -> None:
    """The store file: check its integrity."""


@store.command("check")
@click.option("--max-problems", type=click.IntRange(1, 100_000), default=100,
              show_default=True, help="Stop listing after this many problems.")
@store_option
@json_option
def check(*, max_problems: int, store_path: str | None, as_json: bool) -> int:
    """Run SQLite's full integrity check on the store (read-only; every page is read).

    Exit 0: sound. Exit 1: damaged (the problems are listed). Exit 2: no store there, or not
    a perflab store. It takes about a second per 100 MB; opening a store only checks its small
    tables (docs/store.md).
    """
    from perflab.store import check_file, default_store_path  # noqa: PLC0415  # lazy

    path = Path(store_path).expanduser() if store_path else default_store_path()
    result = check_file(path, limit=max_problems)
    if as_json:
        doc: StoreCheckDoc = {
            "schema": "perflab.store-check/1", "store": str(result.path), "ok": result.ok,
            "bytes": result.size_bytes, "schema_version": result.schema_version,
            "problems": result.problems, "seconds": round(result.seconds, 6)}
        emit_doc(doc)
    elif result.ok:
        click.echo(f"{result.path}: ok ({format_size(result.size_bytes)}, schema "
                   f"{result.schema_version}, checked in {format_duration(result.seconds)})")
    else:
        click.echo(f"{result.path}: damaged, {len(result.problems)} problem"
                   f"{'s' if len(result.problems) != 1 else ''}"
                   f"{' (or more)' if len(result.problems) >= max_problems else ''}:")
        for problem in result.problems:
            click.echo(f"  {problem}")
        click.echo("hint: perflab will not write to it; move it away and start a new store (runs "
                   "in undamaged parts may still be read with `perflab show`)", err=True)
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED
