"""Time to diagnosis and capture overhead of ``perflab incident open`` (issue 16's figures:
the planted cause ranked first within 60 s of opening, for each demo fault; the capture costs
the target <= 5 % of its throughput).

    PYTHONPATH=src python benchmarks/bench_incident_diagnosis.py [--overhead-rounds 2]
        [--only-overhead] [--overhead-of capture|cpu|offcpu] [--base ../base/src]

Starts, on loopback only: the demo service (``perflab.demo.service``: CPU hot path, lock, leak
switched at run time), a hub (``perflab serve``, receiving spans) and the demo's traced chain
frontend -> api -> store (``perflab.demo.chain``). Light traffic runs throughout (bounded: a
few client threads, for the length of the run). Each fault is planted in turn:

- CPU hot path: ``cpu=on`` and ``/hash`` traffic; expected first: a hot path in checksum_slowly;
- lock contention: ``lock=on`` and ``/report`` from 6 threads; expected: lock contention;
- leak: ``leak=on`` and ``/cache`` of new keys; expected: the service leaks memory;
- slow downstream: every checkout's order misses the store's price cache; expected: slow
  downstream store;
- error burst: one checkout in three uses the expired coupon; expected: errors start at the store.

The process faults get a few seconds of traffic before the incident is opened; the span faults
30 s, so the last minute RED compares holds them. Then ``perflab incident open`` runs (with the
service's PID, a 10 s profile) and the time from its start to its answer is the figure, with the
rank of the planted cause in it. Overhead: the service's /work throughput from 4 keep-alive
client threads, and the service's own CPU-seconds per request, in windows with a capture
running against it and windows without, alternated; ``--base SRC`` adds, in the same rounds,
windows with another checkout's capture (base against change, the same run).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from _load_targets import use_bytecode
from perflab.testing import free_port

PY = sys.executable


class Traffic:
    """Keep-alive GETs from ``threads`` threads until stopped; ``path(i)`` gives each URL."""

    def __init__(self, port: int, path: Any, threads: int = 2, pause_s: float = 0.0) -> None:
        self.port, self.path, self.pause_s = port, path, pause_s
        self.done: list[float] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k,), daemon=True)
                         for k in range(threads)]

    def start(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)

    def count(self, start: float, end: float) -> int:
        return sum(1 for t in list(self.done) if start <= t < end)

    def _run(self, k: int) -> None:
        i = k * 1_000_000
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set():
            i += 1
            try:
                conn.request("GET", self.path(i))
                conn.getresponse().read()
                self.done.append(time.monotonic())
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self._stop.wait(0.1)
            if self.pause_s:
                self._stop.wait(self.pause_s)
        conn.close()


def _wait_port_file(path: Path, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.1)
    raise SystemExit(f"no port in {path}")


def _wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # loopback
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} never answered")


def _faults(port: int, **switches: str) -> None:
    query = "&".join(f"{k}={v}" for k, v in switches.items())
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/faults?{query}",
                                timeout=10):
        pass


def _open(store: Path, title: str, *args: str,
          env: dict[str, str] | None = None) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    out = subprocess.run([PY, "-m", "perflab", "incident", "open", title, "--store", str(store),
                          "--json", *args], capture_output=True, text=True, check=False,
                         timeout=300, env=env)
    took = time.monotonic() - started
    if out.returncode != 0:
        raise SystemExit(f"incident open failed ({out.returncode}): {out.stderr}")
    return took, json.loads(out.stdout)


def _rank(doc: dict[str, Any], expect: str) -> int | None:
    return next((f["rank"] for f in doc["findings"] if expect in f["title"]), None)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--overhead-rounds", type=int, default=2)
    parser.add_argument("--span-settle", type=float, default=30.0)
    parser.add_argument("--only-overhead", action="store_true",
                        help="Skip the faults: measure the capture's overhead only.")
    parser.add_argument("--overhead-of", choices=("capture", "cpu", "offcpu"),
                        default="capture",
                        help="What runs in the overhead's busy windows: the whole capture "
                             "(incident open), or only its 10 s CPU or off-CPU profile.")
    parser.add_argument("--base", metavar="SRC",
                        help="Another checkout's src/ (e.g. a worktree of the base commit): "
                             "each round also captures with it (PYTHONPATH=SRC), same run.")
    parser.add_argument("--profile-arg", action="append", default=[], metavar="ARG",
                        help="With --overhead-of cpu|offcpu: an argument added to this "
                             "checkout's `profile capture` step (repeatable).")
    parser.add_argument("--open-arg", action="append", default=[], metavar="ARG",
                        help="With --overhead-of capture: an argument added to this "
                             "checkout's `incident open` (repeatable), e.g. --open-arg=--nice "
                             "--open-arg=19 against --base with the default.")
    parser.add_argument("--compile-each-start", action="store_true",
                        help="Run perflab as a checkout with PYTHONDONTWRITEBYTECODE=1 does, "
                             "compiling every module at each step's start (default: from its "
                             "bytecode, as an installed perflab runs).")
    args = parser.parse_args()
    # An installed perflab runs from bytecode; a checkout under PYTHONDONTWRITEBYTECODE=1 (this
    # machine's shell sets it) compiles every module it imports at each of the capture's
    # python -m perflab steps. Every child here inherits os.environ.
    bytecode = dict(os.environ)
    use_bytecode(bytecode, compile_each_start=args.compile_each_start)
    os.environ.clear()
    os.environ.update(bytecode)
    # a TERM (a timeout) ends the run through the finally below: the children are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="bench-incident-"))
    store = tmp / "store.db"
    env = {**os.environ}
    children: list[subprocess.Popen[bytes]] = []

    def spawn(argv: list[str], extra: dict[str, str] | None = None) -> None:
        log = (tmp / f"child-{len(children)}.log").open("wb")
        children.append(subprocess.Popen(argv, stdout=log, stderr=log,
                                         env={**env, **(extra or {})},
                                         start_new_session=True))

    try:
        spawn([PY, "-m", "perflab.demo.service", "--port", "0", "--port-file",
               str(tmp / "svc.port")])
        service = children[-1]
        svc_port = _wait_port_file(tmp / "svc.port")
        hub_port = free_port()
        spawn([PY, "-m", "perflab", "serve", "--listen", f"127.0.0.1:{hub_port}", "--store",
               str(store), "--no-record", "--no-otlp-http", "--no-otlp-grpc", "--no-zipkin"])
        _wait_http(f"http://127.0.0.1:{hub_port}/api/runs")
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{hub_port}",
                "OTEL_BSP_SCHEDULE_DELAY": "500", "OTEL_TRACES_SAMPLER": "always_on"}
        next_url = ""
        for role in ("store", "api", "frontend"):
            argv = [PY, "-m", "perflab.demo.chain", "--role", role, "--port", "0",
                    "--port-file", str(tmp / f"{role}.port")]
            spawn([*argv, "--next", next_url] if next_url else argv, otel)
            next_url = f"http://127.0.0.1:{_wait_port_file(tmp / f'{role}.port')}"
        front = _wait_port_file(tmp / "frontend.port")

        mode = {"chain": "normal"}

        def checkout(i: int) -> str:
            order = i * 10 if mode["chain"] == "slow" else (i * 10 + 1)  # x10: a cache miss
            coupon = "&coupon=EXPIRED" if mode["chain"] == "errors" and i % 3 == 0 else ""
            return f"/checkout?order={order}{coupon}"

        pid = str(service.pid)
        if not args.only_overhead:
            _diagnosis(args, store, (svc_port, front), pid, mode=mode, checkout=checkout)
        _overhead(args, store, svc_port, pid)
    finally:
        for child in reversed(children):
            child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return 0


def _diagnosis(args: argparse.Namespace, store: Path, ports: tuple[int, int], pid: str, *,
               mode: dict[str, str], checkout: Any) -> None:
    """Each fault in turn: plant it, open an incident, the rank of the planted cause."""
    svc_port, front = ports
    chain = Traffic(front, checkout, threads=2, pause_s=0.05).start()
    base = Traffic(svc_port, lambda _i: "/work", threads=1, pause_s=0.05).start()
    print(f"warming up: normal traffic for {args.span_settle + 40:.0f} s (RED's 'before')")
    time.sleep(args.span_settle + 40)
    results: list[tuple[str, float, float, int | None, str]] = []
    process_faults = [
        ("CPU hot path", {"cpu": "on"}, lambda i: f"/hash?n=200000&i={i}", 2,
         "CPU hot path"),
        ("lock contention", {"lock": "on"}, lambda i: f"/report?ms=100&i={i}", 6,
         "lock contention"),
        # slow enough not to reach the demo's 768 MiB cap before the capture ends
        ("leak", {"leak": "on"}, lambda i: f"/cache?key=k{i}&kib=64", 2, "leaks memory"),
    ]
    for name, switches, path, threads, expect in process_faults:
        _faults(svc_port, cpu="off", lock="off", leak="off")
        _faults(svc_port, **switches)
        traffic = Traffic(svc_port, path, threads=threads,
                          pause_s=0.05 if name == "leak" else 0.0).start()
        settle = 3.0
        time.sleep(settle)
        took, doc = _open(store, name, "--pid", pid)
        traffic.stop()
        results.append((name, settle, took, _rank(doc, expect), doc["findings"][0]["title"]
                        if doc["findings"] else "-"))
        print(f"{name}: opened in {took:.1f} s, planted cause ranked {results[-1][3]}")
    _faults(svc_port, cpu="off", lock="off", leak="off")

    for name, chain_mode, expect in (("slow downstream", "slow", "slow downstream: store"),
                                     ("error burst", "errors", "errors start here: store")):
        mode["chain"] = chain_mode
        time.sleep(args.span_settle)
        took, doc = _open(store, name, "--service", "frontend", "--profile-duration", "0")
        results.append((name, args.span_settle, took, _rank(doc, expect),
                        doc["findings"][0]["title"] if doc["findings"] else "-"))
        print(f"{name}: opened in {took:.1f} s, planted cause ranked {results[-1][3]}")
    mode["chain"] = "normal"
    chain.stop()
    base.stop()

    print("\nfault            settle  open(s)  rank  first finding")
    for name, settle, took, rank, first in results:
        print(f"{name:<16} {settle:5.0f}s  {took:7.1f}  {rank!s:>4}  {first}")


def _cpu_s(pid: str) -> float:
    """utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Window:
    """One window of /work traffic: requests done, and the service's CPU-seconds meanwhile."""

    def __init__(self, work: Traffic, pid: str) -> None:
        self.work, self.pid = work, pid
        self.t0, self.cpu0 = time.monotonic(), _cpu_s(pid)

    def close(self) -> tuple[float, float, float]:
        """(seconds, requests/s, service CPU-ms per request)."""
        t1, cpu1 = time.monotonic(), _cpu_s(self.pid)
        done = self.work.count(self.t0, t1)
        return t1 - self.t0, done / (t1 - self.t0), (cpu1 - self.cpu0) * 1e3 / max(1, done)


def _planned_step(mode: str, pid: str, env: dict[str, str]) -> list[str]:
    """The ``perflab`` arguments of the capture's ``MODE-profile PID`` step as the checkout on
    ``env``'s PYTHONPATH plans it (its incident/_capture.py), without its output file."""
    code = ("import json, pathlib, sys; from perflab.incident._capture import CaptureOptions, "
            "plan; pid = int(sys.argv[2]); steps = plan(CaptureOptions('b', pids=(pid,)), "
            "'s.db', 1, pathlib.Path('/nonexistent')); print(json.dumps(next(list(s.argv) "
            "for s in steps if s.name == f'{sys.argv[1]}-profile {pid}')))")
    out = subprocess.run([PY, "-c", code, mode, pid], capture_output=True, text=True,
                         check=True, timeout=60, env=env)
    argv: list[str] = json.loads(out.stdout)
    o = argv.index("-o")
    return argv[:o] + argv[o + 2:]


def _median_interval(values: list[float], *, resamples: int = 4000,
                     seed: int = 16) -> tuple[float, float, float]:
    """The median and a bootstrap 95 % interval of it (seeded: the same rounds, the same
    interval)."""
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(values, k=len(values)))
                  for _ in range(resamples))
    return statistics.median(values), meds[int(0.025 * resamples)], meds[int(0.975 * resamples)]


def _overhead(args: argparse.Namespace, store: Path, svc_port: int, pid: str) -> None:
    """The service's /work from 4 keep-alive threads, in windows with a capture running
    against it and windows as long without. Two figures a window: throughput (what the
    issue's goal names, but on a shared machine it moves with everything else that runs) and
    the service's own CPU-seconds per request (/proc/PID/stat), what the capture adds to each
    unit of the target's work (its sampling, its stops for stack dumps) whatever else competes
    for the cores.

    Each round has a window without a capture and one with each setting's capture (this
    checkout's; with ``--base SRC`` also that checkout's, run with PYTHONPATH=SRC); the order
    turns round by round, so drift hits every setting. A round's figure is its capture window
    over its quiet window, minus 1; the median over rounds gets a bootstrap 95 % interval."""
    settings: dict[str, dict[str, str]] = {"change": {}}
    if args.base:
        base_src = str(Path(args.base).resolve())
        settings = {"base": {"PYTHONPATH": base_src}, "change": {}}
    work = Traffic(svc_port, lambda _i: "/work", threads=4).start()
    time.sleep(3)
    windows: dict[str, list[tuple[float, float, float]]] = {k: [] for k in ("quiet", *settings)}
    loads: list[float] = [os.getloadavg()[0]]

    steps = {name: [*_planned_step(args.overhead_of, pid, {**os.environ, **extra}),
                    *(args.profile_arg if name == "change" else [])]
             for name, extra in settings.items()} if args.overhead_of != "capture" else {}
    for name, argv in steps.items():
        print(f"{name}: perflab {' '.join(argv)}")

    def captured(name: str) -> float:
        env = {**os.environ, **settings[name]}
        window = Window(work, pid)
        if args.overhead_of == "capture":
            _open(store, "overhead", "--pid", pid,
                  *(args.open_arg if name == "change" else []), env=env)
        else:  # the capture's own step, alone
            out = store.parent / f"{args.overhead_of}-{name}-{len(windows[name])}.pb.gz"
            subprocess.run([PY, "-m", "perflab", *steps[name], "-o", str(out)],
                           capture_output=True, check=True, timeout=120, env=env)
        windows[name].append(window.close())
        return windows[name][-1][0]

    def quiet(seconds: float) -> None:
        window = Window(work, pid)
        time.sleep(seconds)
        windows["quiet"].append(window.close())

    for name in settings:  # not counted: writes each setting's bytecode, warms its caches
        env = {**os.environ, **settings[name]}
        if args.overhead_of == "capture":
            _open(store, "warm-up", "--pid", pid, env=env)
    order = [*settings, "quiet"]
    for r in range(args.overhead_rounds):
        turn = order[r % len(order):] + order[:r % len(order)]
        for name in turn:
            if name == "quiet":
                took = [w[0] for k in settings for w in windows[k]]
                quiet(statistics.median(took) if took else 12.0)
            else:
                captured(name)
        loads.append(os.getloadavg()[0])
        print(f"round {r + 1}: " + ", ".join(
            f"{k} {windows[k][-1][2]:.4f} ms/req {windows[k][-1][1]:.0f} req/s"
            f" {windows[k][-1][0]:.1f} s" for k in windows), flush=True)
    work.stop()
    print(f"\nload average (1 min) at each round's end: {', '.join(f'{x:.1f}' for x in loads)}"
          f" (median {statistics.median(loads):.1f})")
    for name in settings:
        took = statistics.median(w[0] for w in windows[name])
        print(f"{name}'s capture took: median {took:.1f} s")
    for what, k, unit in (("throughput", 1, "req/s"), ("service CPU", 2, "ms/request")):
        quiet_k = [w[k] for w in windows["quiet"]]
        print(f"\n{what} without a capture: median {statistics.median(quiet_k):.4f} {unit}")
        for name in settings:
            during = [w[k] for w in windows[name]]
            pairs = [y / x - 1 for x, y in zip(quiet_k, during, strict=False)]
            med, lo, hi = _median_interval(pairs)
            print(f"{what} during {name}'s capture: median {statistics.median(during):.4f} "
                  f"{unit}; during / without - 1: median {med:+.1%} (95 % CI {lo:+.1%} to "
                  f"{hi:+.1%}; rounds: {', '.join(f'{p:+.1%}' for p in pairs)})")
        if args.base:
            pairs = [c[k] / b[k] - 1 for b, c in zip(windows["base"], windows["change"],
                                                      strict=False)]
            med, lo, hi = _median_interval(pairs)
            print(f"{what}: change / base - 1, same round: median {med:+.1%} (95 % CI "
                  f"{lo:+.1%} to {hi:+.1%})")

if __name__ == "__main__":
    sys.exit(main())
