"""Observability overhead on the demo's traced chain (frontend -> api -> store, each set up with
``perflab.otel.setup``): what tracing costs the service without tracing, at 10 % head sampling
(``ParentBased(TraceIdRatioBased(0.1))``) and at 100 % (target: 10 % costs <= 5 %).

The figure is the service's **CPU seconds per request**: the utime + stime of the chain's three
processes (their exporter threads included) divided by the requests it served. On a shared
machine throughput moves with whatever else runs; the CPU a request costs the service moves
much less, and what still moves it (cache and frequency effects of the neighbours) is handled
by statistics over many short alternating rounds rather than a few long ones.

One chain per configuration is started once and stays up (an idle chain costs nothing but its
exporter's wake-ups, which are part of the overhead). Each round drives every chain in turn,
in a rotating order, with ``perflab load`` (closed model, fixed connections) for ``--seconds``.
A chain's CPU for a round is read from the start of its burst to the start of its next one (for
the last round, to ``EXPORT_WAIT_S`` after the end), so the spans exported after a burst (every
5 s by default) are counted in the round they came from, and nothing is counted twice. Spans go
to a real hub; its CPU is reported beside, not counted.

Printed: per configuration the median CPU per request and its range, and the overhead against
"off" two ways, each with a 95 % bootstrap interval (10,000 resamples, seeded): the median of
the per-round ratios (paired: each round against the "off" of the same round) and the ratio of
the medians (unpaired); throughput and p99 as a reference. With ``--restart-every K`` the
bootstrap resamples whole blocks of K rounds, the rounds one set of chains ran: rounds on the
same processes are not independent draws (``_bootstrap``). ``--save FILE`` keeps every round.

``--unsampled`` adds 0 % head sampling (``ParentBased(TraceIdRatioBased(0))``): nothing is
recorded, every span takes the unsampled path, so its overhead is that path's alone.

``--before-src DIR`` adds a fourth configuration, 10 % with another tree's ``src/`` on
``PYTHONPATH`` (``git archive REV src | tar -x -C DIR``), in the same rounds: a change to
``perflab.otel`` or the demo measured before and after under the same load.

``--together`` drives every chain at once in each round, each with its own load, instead of
in turn. The machine's own swings (other tenants, frequency, caches) then fall on every chain
alike: one chain's CPU per request moved 3-12 % from one 10 s window to the next, the ratio of
two chains driven together 0.7-1.4 %. Two configurations at a time (``--without-full``, or
``--twin``) keep the two cores from crowding: with four chains at once the overheads shrank
(100 %: +17 % against about +22 % alternating; 10 %: +1.3 %), with two 10 % measured +3 to +5 %,
as 80 alternating rounds did. Which chain starts first rotates from block to block.

``--twin`` measures "off" against a second "off" chain and nothing else: what the design
reports when there is no difference to find (its own bias and spread).

``--restart-every K`` starts every chain afresh after each K rounds. A chain's processes may
keep what they cost by where they landed (their CPUs, caches, memory) for as long as they live;
fresh chains spread that over the configurations. (0 % sampling measured about 3 % *cheaper*
than "off" in two runs of three, with and without fresh chains: "off" is the OpenTelemetry
API's no-op tracer, which makes every span current, while ``perflab.otel`` skips the children of
an unsampled span; a likely cause, not checked. Driven together with "off", 0 % measured
+2.3 % [+1.2, +3.7] in 30 rounds: the alternating rounds' spread had hidden it.)

    python benchmarks/bench_trace_overhead.py [--rounds 20] [--seconds 2] [--connections 8]
                                              [--unsampled] [--before-src DIR/src]
                                              [--restart-every K] [--without-full]
                                              [--together] [--twin] [--configs A,B]
                                              [--save FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from perflab.testing import free_port, serve

SRC = Path(__file__).resolve().parents[1] / "src"
EXPORT_WAIT_S = 5.5  # the BatchSpanProcessor's default schedule delay is 5 s
CONFIGS = {
    "off": {"OTEL_SDK_DISABLED": "true"},
    "10%": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "100%": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}
# every span unsampled: the unsampled path alone (propagation, the root's draw)
UNSAMPLED = {**CONFIGS["10%"], "OTEL_TRACES_SAMPLER_ARG": "0"}


CHAIN_ROLES = ("store", "api", "frontend")  # started in this order, each told the next's URL


def start_chain(tmp: Path, env: dict[str, str], *,
                wrap: Callable[[str], list[str]] = lambda _role: [],
                start_limit_s: float = 30.0) -> tuple[list[subprocess.Popen[bytes]], int]:
    """The demo chain's three services (``CHAIN_ROLES`` order) and the frontend's port;
    ``wrap(role)`` is put before each service's command (a tool to run it under)."""
    procs, next_url = [], ""
    for role in CHAIN_ROLES:
        port_file = tmp / f"{role}.port"
        port_file.unlink(missing_ok=True)
        args = [*wrap(role), sys.executable, "-m", "perflab.demo.chain", "--role", role,
                "--port", "0", "--port-file", str(port_file)]
        if next_url:
            args += ["--next", next_url]
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + start_limit_s
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or procs[-1].poll() is not None:
                raise RuntimeError(f"{role} did not start")
            time.sleep(0.05)
        next_url = f"http://127.0.0.1:{int(port_file.read_text())}"
    return procs, int((tmp / "frontend.port").read_text())


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        p.wait(30)


def _cpu_s(pids: list[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _load(port: int, seconds: float, connections: int, store: Path
          ) -> tuple[float, float, int]:
    out = subprocess.run(
        [sys.executable, "-m", "perflab", "load", "run",
         f"http://127.0.0.1:{port}/checkout?order=1{{n}}", "--key-space", "19",
         "-c", str(connections), "-d", f"{seconds}s", "--workers", "1", "--json",
         "--store", str(store)],
        env={**os.environ, "PYTHONPATH": str(SRC)}, capture_output=True, text=True,
        check=True, timeout=120)
    doc = json.loads(out.stdout)
    summary = doc.get("summary", doc)
    p99 = summary["latency_ms"]["p99"]  # None when no request completed (a chain that failed)
    if p99 is None:
        sys.exit(f"no request completed in {seconds}s: {out.stderr.strip()[-500:]}")
    return float(summary["rps"]), float(p99), int(summary["requests"])


def _range(values: list[float]) -> str:
    return f"{min(values):.1f} .. {max(values):.1f}"


def _bootstrap(stat, samples: list[np.ndarray], blocks: np.ndarray,
               n: int = 10_000) -> tuple[float, float]:
    """The 95 % percentile-bootstrap interval of ``stat(*samples)``, resampling whole blocks
    with replacement: ``blocks[i]`` is round i's block, the rounds one set of chains ran.
    Rounds of one block share its processes and what they cost by where they landed, so they
    are not independent draws: resampling them one by one gave intervals too narrow (two "off"
    chains driven together differed by +4.6 % in both rounds of one block, by -0.9 and -1.8 %
    in another).
    Paired samples are passed as one array of rows."""
    rng = np.random.default_rng(13)
    members = [np.flatnonzero(blocks == b) for b in np.unique(blocks)]
    values = np.empty(n)
    for i in range(n):
        chosen = np.concatenate([members[k] for k in rng.integers(0, len(members), len(members))])
        values[i] = stat(*(a[chosen] for a in samples))
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def _paired_median_ratio(pairs: np.ndarray) -> float:
    return float(100 * (np.median(pairs[:, 0] / pairs[:, 1]) - 1))


def _median_ratio(x: np.ndarray, off: np.ndarray) -> float:
    return float(100 * (np.median(x) / np.median(off) - 1))


class Chain:
    """One configuration's chain, up for the whole benchmark, and what its rounds measured."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        tmp.mkdir()
        self.procs, self.port = start_chain(tmp, env)
        self.pids = [p.pid for p in self.procs]
        self.tmp = tmp
        self.cpu_mark: float | None = None
        self.requests = 0
        self.rounds: list[tuple[float, float, float, float]] = []  # us/req, req/s, p99, hub
        self._burst: tuple[float, float, float, float, int] | None = None
        self._marked = (0.0, 0.0)  # CPU of the chain and of the hub at the last mark

    def burst(self, seconds: float, connections: int, hub_pid: int) -> None:
        self.mark(hub_pid)
        self.drive(seconds, connections)

    def mark(self, hub_pid: int) -> None:
        """The start of a burst: the previous one's round closed at the CPU read now."""
        now, hub = _cpu_s(self.pids), _cpu_s([hub_pid])
        self._close(now, hub)
        self._marked = (now, hub)

    def drive(self, seconds: float, connections: int) -> None:
        """The burst's load, after ``mark``."""
        rps, p99, requests = _load(self.port, seconds, connections, self.tmp / "load.db")
        self._burst = (*self._marked, rps, p99, requests)

    def _close(self, now: float, hub: float) -> None:
        """The previous burst's round: its CPU up to ``now``."""
        if self._burst is not None:
            cpu0, hub0, rps, p99, requests = self._burst
            n = max(requests, 1)
            self.rounds.append((1e6 * (now - cpu0) / n, rps, p99, 1e6 * (hub - hub0) / n))
            self._burst = None

    def finish(self, hub_pid: int) -> None:
        self._close(_cpu_s(self.pids), _cpu_s([hub_pid]))
        _stop(self.procs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--before-src", type=Path, default=None)
    parser.add_argument("--restart-every", type=int, default=0, metavar="K",
                        help="start every chain afresh after each K rounds (0: never), so "
                             "what one chain's processes cost by where they landed (their "
                             "CPUs, caches, memory) is spread over the configurations")
    parser.add_argument("--unsampled", action="store_true",
                        help="add 0 %% head sampling: the cost of the unsampled path alone "
                             "(what 10 %% costs beyond a tenth of 100 %%)")
    parser.add_argument("--without-full", action="store_true",
                        help="leave 100 %% sampling out: the rounds go to the two that decide "
                             "the goal, for a narrower interval in the same time")
    parser.add_argument("--together", action="store_true",
                        help="drive every configuration's chain at once in each round instead "
                             "of in turn: what the machine does to one it does to all, so "
                             "their ratio is sharper (use it with two configurations: more "
                             "would crowd the two cores)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--twin", action="store_true",
                        help="only 'off' against a second 'off' chain: the benchmark's own "
                             "error, what it reports when there is nothing to find")
    only.add_argument("--configs", default=None, metavar="A,B",
                        help="only these configurations (of off, 10%%, 100%%, 0%%, "
                             "0%%-unpropagated; 'off' is always one), e.g. '0%%' for the "
                             "unsampled path against off")
    parser.add_argument("--save", type=Path, default=None, metavar="FILE",
                        help="write every round's figures (us/req, req/s, p99 ms, hub us/req) "
                             "and block, per configuration, to this JSON file")
    args = parser.parse_args()
    configs = dict(CONFIGS)
    if args.without_full:
        del configs["100%"]
    if args.unsampled:
        configs["0%"] = UNSAMPLED
    if args.twin:
        configs = {"off": CONFIGS["off"], "off twin": CONFIGS["off"]}
    if args.configs:
        # 0 % with no propagation: each service's spans are roots, no header written or read
        known = {**CONFIGS, "0%": UNSAMPLED,
                 "0%-unpropagated": {**UNSAMPLED, "OTEL_PROPAGATORS": "none"}}
        wanted = ["off", *(n for n in args.configs.split(",") if n != "off")]
        if unknown := [n for n in wanted if n not in known]:
            parser.error(f"--configs: unknown {', '.join(unknown)} (known: {', '.join(known)})")
        configs = {n: known[n] for n in wanted}
    if args.before_src is not None:
        configs["10% before"] = {**CONFIGS["10%"], "PYTHONPATH": str(args.before_src.resolve())}
    names = list(configs)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        port = free_port()
        with serve(tmp / "hub.db", "--no-record", "--otlp-http", f"127.0.0.1:{port}",
                   "--no-otlp-grpc", "--no-zipkin") as hub:
            base = {**os.environ, "PYTHONPATH": str(SRC),
                    "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
            chains: dict[str, Chain] = {}
            results: dict[str, list[tuple[float, float, float, float]]] = {n: [] for n in names}

            def start(block: int) -> None:
                """Block ``block``'s chains (0, 1, 2 ...), which one starts first rotating."""
                k = block % len(names)
                for name in names[k:] + names[:k]:
                    chains[name] = Chain(tmp / f"chain{names.index(name)}-{block}",
                                         {**base, **configs[name]})
                for c in chains.values():  # imports, caches, connections
                    _load(c.port, 1.0, args.connections, tmp / "warmup.db")

            def finish() -> None:
                time.sleep(EXPORT_WAIT_S)  # the spans of the last requests exported
                for name, c in chains.items():
                    c.finish(hub.pid)
                    results[name] += c.rounds
                chains.clear()

            def together(seconds: float) -> None:
                for c in chains.values():
                    c.mark(hub.pid)
                with ThreadPoolExecutor(len(chains)) as pool:
                    loads = [pool.submit(c.drive, seconds, args.connections)
                             for c in chains.values()]
                    for load in loads:
                        load.result()  # a load's failure (its SystemExit) raised here

            try:
                start(0)
                for r in range(args.rounds):
                    if r and args.restart_every and r % args.restart_every == 0:
                        finish()
                        start(r // args.restart_every)
                    if args.together:
                        together(args.seconds)
                    else:
                        k = r % len(names)
                        for name in names[k:] + names[:k]:  # rotate which goes first
                            chains[name].burst(args.seconds, args.connections, hub.pid)
                    if r and chains[names[0]].rounds:
                        print(f"round {r}: " + ", ".join(
                            f"{n} {chains[n].rounds[-1][0]:.0f} us/req" for n in names)
                            + f"; load average {os.getloadavg()[0]:.1f}", flush=True)
                finish()
            finally:
                for c in chains.values():
                    c.finish(hub.pid)
    off = np.array([x[0] for x in results["off"]])
    # each round's block: the chains it ran on (one round a block when they are never
    # restarted, since nothing then tells the chains' own share from the rounds')
    blocks = np.arange(len(off)) // (args.restart_every or 1)
    if args.save is not None:
        args.save.write_text(json.dumps({"blocks": blocks.tolist(), "rounds": results}))
    off_rps = statistics.median(x[1] for x in results["off"])
    off_p99 = statistics.median(x[2] for x in results["off"])
    fresh = f", chains started afresh every {args.restart_every}" if args.restart_every else ""
    how = "rounds, every chain driven at once," if args.together else "alternating rounds"
    print(f"chain CPU per request, {args.rounds} {how} of {args.seconds:g} s{fresh}, "
          f"{args.connections} connections (95 % bootstrap intervals):")
    for name in names:
        cpu = np.array([x[0] for x in results[name]])
        rps = statistics.median(x[1] for x in results[name])
        p99 = statistics.median(x[2] for x in results[name])
        hub_us = statistics.median(x[3] for x in results[name])
        line = (f"{name:>10}: {np.median(cpu):6.0f} us/req (range {_range(list(cpu))})")
        if name != "off":
            pairs = np.column_stack([cpu, off])
            paired = _paired_median_ratio(pairs)
            plo, phi = _bootstrap(_paired_median_ratio, [pairs], blocks)
            unpaired = _median_ratio(cpu, off)
            ulo, uhi = _bootstrap(_median_ratio, [cpu, off], blocks)
            line += (f", overhead {paired:+.1f} % [{plo:+.1f}, {phi:+.1f}] paired, "
                     f"{unpaired:+.1f} % [{ulo:+.1f}, {uhi:+.1f}] of medians")
        print(line + f"; {rps:.0f} req/s ({100 * (rps - off_rps) / off_rps:+.1f} %), "
              f"p99 {p99:.1f} ms ({100 * (p99 - off_p99) / off_p99:+.1f} %); "
              f"hub {hub_us:.0f} us/req" + (" (all chains' spans)" if args.together else ""))


if __name__ == "__main__":
    main()
