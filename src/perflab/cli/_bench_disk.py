"""``perflab bench disk``: fio-style I/O on a file that never outlives the run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from perflab.cli._common import POSITIVE_DURATION, emit_doc, json_option
from perflab.units import (
    format_byte_rate,
    format_duration_ns,
    format_size,
    parse_size,
    printable,
)

if TYPE_CHECKING:
    from perflab.bench import BenchDiskDoc

_MODES = ("randread", "randwrite", "read", "write", "randrw")


def _size(text: str, option: str) -> int:
    from perflab.errors import InvalidValue  # noqa: PLC0415

    try:
        return parse_size(text)
    except InvalidValue as exc:
        raise InvalidValue(f"{option}: {exc.message}", hint=exc.hint) from exc


@click.command("disk")
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--rw", type=click.Choice(_MODES), default="randread", show_default=True,
              help="Random or sequential reads or writes, or a random mix (fio's --rw).")
@click.option("--bs", default="4k", show_default=True, help="Block size (a multiple of 512).")
@click.option("--iodepth", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Requests in flight: one thread per request, each a blocking preadv/pwritev.")
@click.option("--size", default="256M", show_default=True,
              help="Size of the test file (laid out first, removed afterwards).")
@click.option("--rwmixread", type=click.IntRange(0, 100), default=50, show_default=True,
              help="With --rw randrw: the share of reads, in %.")
@click.option("-d", "--duration", type=POSITIVE_DURATION, default="10s", show_default=True,
              help="How long to run.")
@click.option("--direct", is_flag=True, help="O_DIRECT: bypass the page cache.")
@json_option
def disk(  # noqa: PLR0917  # click passes every option as an argument
        path: Path, rw: str, bs: str, iodepth: int, size: str, rwmixread: int,
        duration: float, direct: bool, as_json: bool) -> None:
    """Random or sequential I/O at a queue depth in a temporary file under PATH (default: the
    current directory), like fio's psync engine with numjobs=IODEPTH: IOPS, bandwidth and
    completion-latency percentiles (p50, p90, p99, p99.9). --json is schema perflab.bench-disk/1
    with fio's names (iops, bw_bytes, clat_ns.percentile)."""
    from perflab.bench import DiskJob, run_disk  # noqa: PLC0415  # lazy: keeps --help fast

    job = DiskJob(path, rw, _size(bs, "--bs"), iodepth, _size(size, "--size"),  # type: ignore[arg-type]  # click.Choice checked rw
                  duration, direct=direct, rwmixread=rwmixread)

    def started() -> None:
        if not as_json:
            click.echo(f"{rw} bs={format_size(job.bs)} iodepth={iodepth} "
                       f"size={format_size(job.size)} for {duration:g} s in {printable(str(path))}",
                       err=True)

    doc = run_disk(job, on_start=started)
    if as_json:
        emit_doc(doc)
    else:
        _print(doc)
    if doc["interrupted"]:
        raise KeyboardInterrupt


def _print(doc: BenchDiskDoc) -> None:
    for name in ("read", "write"):  # a tuple of literals: mypy knows both keys
        side = doc[name]
        if side is None:
            continue
        pct = side["clat_ns"]["percentile"]
        lat = ", ".join(f"p{float(k):g}={format_duration_ns(v)}" for k, v in pct.items())
        click.echo(f"{name:5}  IOPS={side['iops']:,.0f}  BW={format_byte_rate(side['bw_bytes'])}"
                   f"  ({side['ios']:,} ios in {doc['elapsed_s']:.2f} s)")
        click.echo(f"       clat: {lat}, max={format_duration_ns(side['clat_ns']['max'])}")
    for warning in doc["warnings"]:
        click.echo(f"note: {warning}", err=True)
