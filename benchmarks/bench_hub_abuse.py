"""The hub under issue 11's problem-3 request, before and after the fix.

Builds a store with one run holding a series of 200,000 samples, then for each hub (``--old``:
a source tree run as the "before", e.g. /work/main/src; and this perflab) starts ``perflab
serve --no-record`` on a loopback port and measures:

- the largest answer: bytes and seconds of ``/api/runs/R/samples?series=SID x 100&points=100000``
  and of ``start=-2^63&end=2^63-1&points=1000`` (read as a stream, never held);
- the hub's peak RSS (VmHWM) after those requests;
- the hub's p50/p99 for ``/api/runs`` while ``--clients`` clients each repeat the abusive request
  (for ``--seconds``). Against the old hub this is skipped unless ``--old-clients`` is given:
  20 copies of a 400 MB answer at once would take the shared machine's memory.

Usage: python benchmarks/bench_hub_abuse.py [--old /work/main/src] [--clients 20] [--seconds 20]
Loopback only; every hub is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from perflab.store import Store
from perflab.testing import free_port

N_SAMPLES = 200_000
T0 = 1_700_000_000 * 10**9


def build(path: Path) -> tuple[int, int]:
    with Store.open(path) as store:
        run = store.create_run("record", "abuse", started_ns=T0)
        sid = store.series_id(run.id, "system.cpu.pct", {"cpu": "all", "mode": "user"}, "%")
        step = 10**9 // 10
        for lo in range(0, N_SAMPLES, 50_000):
            store.insert_samples([(sid, T0 + i * step, float(i % 97))
                                  for i in range(lo, min(lo + 50_000, N_SAMPLES))])
        store.finish_run(run.id, "ok", ended_ns=T0 + N_SAMPLES * step)
    return run.id, sid


def answer_size(url: str, timeout: float = 600) -> tuple[int, int, float]:
    """(status, bytes, seconds) of one answer, read as a stream."""
    t = time.perf_counter()
    n = 0
    with httpx.stream("GET", url, timeout=timeout) as r:
        for chunk in r.iter_bytes():
            n += len(chunk)
    return r.status_code, n, time.perf_counter() - t


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def hammer(url: str, stop: threading.Event, errors: list[str]) -> None:
    while not stop.is_set():
        try:
            answer_size(url, timeout=120)
        except httpx.HTTPError as exc:
            errors.append(type(exc).__name__)


def p_runs_under_load(base: str, abusive: str, clients: int, seconds: float) -> str:
    stop = threading.Event()
    errors: list[str] = []
    threads = [threading.Thread(target=hammer, args=(abusive, stop, errors), daemon=True)
               for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the abusive requests are under way
    lat, codes = [], []
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=60) as c:
        while time.monotonic() < deadline:
            t = time.perf_counter()
            codes.append(c.get(base + "/api/runs").status_code)
            lat.append((time.perf_counter() - t) * 1000)
    stop.set()
    for t in threads:
        t.join(150)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0]] * 99
    return (f"/api/runs with {clients} abusive clients: n={len(lat)} p50={q[49]:.1f} ms "
            f"p99={q[98]:.1f} ms max={max(lat):.1f} ms non-200={sum(c != 200 for c in codes)} "
            f"client errors={len(errors)}")


@contextlib.contextmanager
def hub_from(src: Path, store: Path) -> Iterator[tuple[str, int]]:
    """``perflab serve --no-record`` of the perflab in ``src`` (not necessarily the one
    importing this script): its URL and PID; stopped with SIGINT, killed if it lingers."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "serve", "--no-record", "--store", str(store),
         "--listen", f"127.0.0.1:{port}"], env=env, start_new_session=True,
        stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/api/runs", timeout=5).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the hub from {src} did not start")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure(label: str, src: Path, store: Path, *, run_id: int, sid: int, clients: int,
            seconds: float) -> None:
    with hub_from(src, store) as (url, pid):
        abusive = (f"{url}/api/runs/{run_id}/samples?series="
                   + ",".join([str(sid)] * 100) + "&points=100000")
        extreme = (f"{url}/api/runs/{run_id}/series/{sid}/samples?start={-(2**63)}"
                   f"&end={2**63 - 1}&points=1000")
        for name, target in (("series x100, points=100000", abusive),
                             ("start/end at int64 limits, points=1000", extreme)):
            status, n, secs = answer_size(target)
            print(f"[{label}] {name}: HTTP {status}, {n / 1e6:.2f} MB in {secs:.1f} s",
                  flush=True)
        print(f"[{label}] hub peak RSS after them: {peak_rss_mb(pid):.0f} MB", flush=True)
        if clients:
            print(f"[{label}] {p_runs_under_load(url, abusive, clients, seconds)}", flush=True)
            print(f"[{label}] hub peak RSS after the load: {peak_rss_mb(pid):.0f} MB",
                  flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", type=Path, default=None, help="source tree of the 'before' hub")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--old-clients", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()
    here = Path(__file__).resolve().parents[1] / "src"
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "abuse.db"
        run_id, sid = build(store)
        if a.old is not None:
            measure("before", a.old, store, run_id=run_id, sid=sid, clients=a.old_clients,
                    seconds=a.seconds)
        measure("after", here, store, run_id=run_id, sid=sid, clients=a.clients,
                seconds=a.seconds)


if __name__ == "__main__":
    main()
