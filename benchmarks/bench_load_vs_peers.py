"""perflab load vs wrk (-t1 -c50) and Locust FastHttpUser (one process), against nginx.

Same machine, same nginx, same run, alternating rounds; prints the ratios the issue names:
    perflab/wrk rps ratio: 0.93 (goal >= 0.8)
    perflab/locust rps ratio: 5.7 (goal >= 8)
and the same ratios per CPU-second of the load generator (requests / (user + system CPU of
the generator's processes)): on a small shared machine nginx itself caps the throughput, so
the CPU each generator spends per request is the figure that compares the engines.

    python benchmarks/bench_load_vs_peers.py [--duration 5] [--rounds 2] [--nginx static|fixed]

``--nginx fixed`` has nginx answer ``/`` from memory (``return 200``) instead of serving a file:
the cheapest response nginx has, so that on two cores the generators, not nginx, set the pace.
"""

from __future__ import annotations

import argparse
import csv
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from _load_targets import ENV, nginx, perflab_load


def children_cpu() -> float:
    """CPU seconds of finished child processes (and their waited-for descendants)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def measured(fn, *args):
    """(requests/s, requests per CPU-second of the generator)."""
    before = children_cpu()
    rps, requests = fn(*args)
    return rps, requests / max(children_cpu() - before, 1e-9)


def wrk_rps(url: str, duration: int) -> tuple[float, float]:
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    out = subprocess.run([exe, "-t1", "-c50", f"-d{duration}s", url], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    assert m, out
    assert n, out
    return float(m.group(1)), float(n.group(1))


LOCUSTFILE = """
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

class Hammer(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
"""


def perflab_rps(url: str, duration: int) -> tuple[float, float]:
    doc = perflab_load(url, "--workers", "1", "-c", "50", "-d", f"{duration}s")
    assert not doc["errors"], doc["errors"]
    return doc["rps"], float(doc["requests"])


def locust_rps(url: str, duration: int) -> tuple[float, float]:
    exe = Path(sys.executable).with_name("locust")
    if not exe.exists():
        raise SystemExit("locust is not installed (pip install -e '.[dev]')")
    with tempfile.TemporaryDirectory(prefix="perflab-bench-locust-") as tmp:
        lf = Path(tmp) / "locustfile.py"
        lf.write_text(textwrap.dedent(LOCUSTFILE))
        subprocess.run([str(exe), "-f", str(lf), "--headless", "-u", "50", "-r", "50",
                        "-t", f"{duration}s", "--host", url.rstrip("/"), "--only-summary",
                        "--csv", f"{tmp}/out", "--loglevel", "ERROR"],
                       capture_output=True, text=True, check=False, env=ENV, cwd=tmp)
        with Path(f"{tmp}/out_stats.csv").open() as fh:
            for row in csv.DictReader(fh):
                if row["Name"] == "Aggregated":
                    return float(row["Requests/s"]), float(row["Request Count"])
    raise SystemExit("locust wrote no aggregated stats")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-locust", action="store_true")
    ap.add_argument("--nginx", choices=("static", "fixed"), default="static",
                    help="static: a small file (the default); fixed: return 200 from memory")
    a = ap.parse_args()
    runs: dict[str, list[tuple[float, float]]] = {"wrk": [], "perflab": [], "locust": []}
    print(f"nginx: {a.nginx}", flush=True)
    with nginx(fixed=a.nginx == "fixed") as (url, _pid):
        for r in range(a.rounds):
            runs["wrk"].append(measured(wrk_rps, url, a.duration))
            runs["perflab"].append(measured(perflab_rps, url, a.duration))
            if not a.no_locust:
                runs["locust"].append(measured(locust_rps, url, a.duration))
            print(f"round {r + 1}: " + "  ".join(
                f"{k} {v[-1][0]:,.0f} req/s ({v[-1][1]:,.0f} req/CPU-s)"
                for k, v in runs.items() if v), flush=True)
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
           for k, v in runs.items() if v}
    us = med["perflab"]
    for peer, goal, fmt in (("wrk", 0.8, ".2f"), ("locust", 8, ".1f")):
        if peer not in med:
            continue
        them = med[peer]
        print(f"perflab/{peer} rps ratio: {us[0] / them[0]:{fmt}} (goal >= {goal}; "
              f"{us[0]:,.0f} vs {them[0]:,.0f} req/s)")
        print(f"perflab/{peer} requests-per-CPU-second ratio: {us[1] / them[1]:{fmt}} "
              f"({us[1]:,.0f} vs {them[1]:,.0f})")


if __name__ == "__main__":
    main()
