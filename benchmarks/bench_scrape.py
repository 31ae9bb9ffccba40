"""CPU a scraper spends on 1,000 targets x 1,000 series at 15 s (node_exporter-sized targets):
``perflab scrape`` against a process serving that many pages on loopback, its CPU time (user +
system, /proc) over ``--seconds`` of steady scraping, as a share of one core. The issue's
figure: at most 50 %.

    python benchmarks/bench_scrape.py [--targets 1000] [--series 1000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def stored(db: Path) -> int:
    """Samples in the store now (read beside the writer: WAL readers never block it)."""
    from perflab.store import Store  # noqa: PLC0415

    with Store.open(db, create=False) as st:
        row = st.conn.execute(  # a benchmark counts rows
            "SELECT (SELECT COUNT(*) FROM samples) + (SELECT COUNT(*) FROM samples_head)"
        ).fetchone()
    return int(row[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--interval", default="15s")
    ap.add_argument("--warmup", type=float, default=150,
                    help="seconds before measuring (the first rounds create every series: at "
                         "1,000 targets a million of them, which takes over a minute here)")
    args = ap.parse_args()
    serving = subprocess.Popen([sys.executable, str(HERE / "_metrics_targets.py"), "--targets",
                                str(args.targets), "--series", str(args.series)],
                               stdout=subprocess.PIPE, text=True)
    try:
        ports = json.loads(serving.stdout.readline())  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory(prefix="perflab-bench-") as tmp:
            config = Path(tmp) / "prometheus.yml"
            targets = ", ".join(f"'127.0.0.1:{p}'" for p in ports)
            config.write_text(f"global: {{scrape_interval: {args.interval}, "
                              f"scrape_timeout: 10s}}\nscrape_configs:\n  - job_name: bench\n"
                              f"    static_configs: [{{targets: [{targets}]}}]\n")
            scraper = subprocess.Popen(
                [sys.executable, "-m", "perflab", "scrape", "-c", str(config), "--store",
                 str(Path(tmp) / "perflab.db"), "--duration",
                 f"{args.seconds + args.warmup + 20:.0f}s",
                 "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            time.sleep(args.warmup)  # every series created, caches warm: the steady state
            db = Path(tmp) / "perflab.db"
            cpu0, t0, n0 = cpu_seconds(scraper.pid), time.monotonic(), stored(db)
            time.sleep(args.seconds)
            cpu1, t1, n1 = cpu_seconds(scraper.pid), time.monotonic(), stored(db)
            print(f"measured: {cpu1 - cpu0:.1f} s of scraper CPU, {n1 - n0:,} samples stored "
                  f"in {t1 - t0:.0f} s", flush=True)  # before stopping it: that may be slow
            scraper.send_signal(signal.SIGINT)
            try:  # it writes what its queue accepted before it exits
                out, _ = scraper.communicate(timeout=300)
                ups: int | str = sum(t["health"] == "up" for t in json.loads(out)["targets"])
            except subprocess.TimeoutExpired:
                scraper.kill()
                scraper.wait()
                ups = "unknown (it did not stop within 300 s)"
    finally:
        serving.kill()
        serving.wait()
    share = (cpu1 - cpu0) / (t1 - t0)
    rate = args.targets * args.series / (float(args.interval.rstrip("s")))
    per_sample = (cpu1 - cpu0) / max(1, n1 - n0)
    print(f"{args.targets} targets x {args.series} series every {args.interval} "
          f"({rate:,.0f} samples/s): {ups} targets up at the end, {n1 - n0:,} samples stored "
          f"in the {t1 - t0:.0f} s measured ({(n1 - n0) / (t1 - t0):,.0f}/s)")
    print(f"scraper CPU {share * 100:.0f} % of one core; {per_sample * 1e6:.1f} us per sample "
          f"stored, so {per_sample * rate * 100:.0f} % of one core for the whole "
          f"{rate:,.0f} samples/s (target: 50 %)")


if __name__ == "__main__":
    main()
