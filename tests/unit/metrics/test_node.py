"""The node_* families written into a run other than the hub's (``perflab record``'s path)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from perflab.metrics import StoreQueryable, instant_query, node_metrics_into
from perflab.store import Store

PROC = Path(__file__).resolve().parents[2] / "fixtures" / "proc_export"


def _query(path: Path, expr: str) -> list[tuple[dict[str, str], float]]:
    with Store.open(path, create=False) as store:
        result = instant_query(StoreQueryable(store), expr, time.time_ns() // 1_000_000)
    return [(dict(labels), value) for labels, value in result.vector]


def test_node_metrics_land_in_the_given_run_and_are_written_on_exit(tmp_path: Path) -> None:
    """Every family the hub writes (CPU counters, memory, PSI, filesystems, up) is in the run
    once the block ends: leaving it writes what the scraper handed over."""
    proc = tmp_path / "proc"
    shutil.copytree(PROC, proc, symlinks=True)
    (proc / "mounts").write_text("/dev/root / ext4 rw,relatime 0 0\n"
                                 "proc /proc proc rw 0 0\n")  # excluded, as node_exporter does
    path = tmp_path / "perflab.db"
    with Store.open(path) as store:
        run = store.create_run("record", "r")
    with node_metrics_into(path, run.id, 3600, proc_root=str(proc)) as scraper:
        deadline = time.monotonic() + 30
        while scraper.error is None and not scraper._previous and time.monotonic() < deadline:
            time.sleep(0.02)  # the first scrape runs at once; wait for it, not for a time
    assert scraper.error is None
    sel = f'{{perflab_run="{run.id}",job="perflab"}}'
    cpu = _query(path, f"node_cpu_seconds_total{sel}")
    assert cpu
    assert {labels["mode"] for labels, _ in cpu} >= {"idle", "user", "system"}
    (fs,) = _query(path, f"node_filesystem_readonly{sel}")
    assert fs == ({"__name__": "node_filesystem_readonly", "device": "/dev/root",
                   "fstype": "ext4", "mountpoint": "/", "instance": fs[0]["instance"],
                   "job": "perflab", "perflab_run": str(run.id)}, 0.0)
    for name in ("node_memory_MemAvailable_bytes", "node_pressure_cpu_waiting_seconds_total",
                 "node_filesystem_avail_bytes", "node_filesystem_size_bytes", "up"):
        assert _query(path, f"{name}{sel}"), name
    with Store.open(path, create=False) as store:  # the run was not ended or replaced
        assert store.run(run.id).status == "running"


def test_a_series_gone_stale_is_not_counted_as_a_sample() -> None:
    """A staleness marker is stored as a mark, not a sample: record's sample count (which the
    store's own count must equal) leaves it out."""
    import math  # noqa: PLC0415

    from perflab.metrics._node import NodeScraper  # noqa: PLC0415  # the scraper itself

    class Sink:
        def __init__(self) -> None:
            self.rows: list[tuple[str, str, int, float]] = []

        def submit(self, rows: list[tuple[str, str, int, float]]) -> bool:
            self.rows = rows
            return True

    sink = Sink()
    scraper = NodeScraper(sink, 1.0)  # type: ignore[arg-type]  # only submit is used
    scraper.scrape_once()
    first = scraper.samples
    scraper._previous.add(("node_gone", '{instance="x"}'))  # a series that went away
    scraper.scrape_once()
    stale = [row for row in sink.rows if math.isnan(row[3])]
    assert "node_gone" in [row[0] for row in stale]  # (and any real series that went away)
    assert scraper.samples - first == len(sink.rows) - len(stale)
