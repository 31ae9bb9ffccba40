"""CPU cost of a perflab export scrape and of a perflab net socket refresh, against their peers.

    PYTHONPATH=src python benchmarks/bench_export_net.py [--rounds 30]

Peers, measured in the same run and as CPU time (user + system), not wall time, because the
machine is shared:
  - a scrape of perflab export (uncached render, system + --match of every python process)
    vs a scrape of node_exporter with the same collectors enabled (its CPU time from
    /proc/PID/stat before and after the scrapes);
  - one perflab socket refresh (/proc/net/tcp*, owners from /proc/PID/fd, sock_diag) vs one
    `ss -tanp` run (child CPU time, process start included: that is what a user pays);
  - one `perflab net --pid` refresh (only that process's sockets, found by inode) vs the
    full refresh above, in the same run.
Each prints a line "<what>: ours X ms, peer Y ms, ratio Z".
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from perflab.collect.sockets import SocketCollector
from perflab.export import Exposition, PerflabCollector
from perflab.testing import free_port

HZ = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / HZ


def bench_export(rounds: int) -> None:
    collector = PerflabCollector("/proc", names=["python", "python3"])
    exp = Exposition(collector, max_age_s=-1)  # never cached: the cost of a fresh read
    exp.render()
    port = free_port()
    collectors = ("cpu", "stat", "meminfo", "loadavg", "pressure", "diskstats", "netdev",
                  "netstat", "vmstat", "tcpstat")
    peer = subprocess.Popen(
        ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}",
         "--collector.disable-defaults", *(f"--collector.{c}" for c in collectors)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ours = theirs = 0.0
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        for _ in range(100):
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    resp.read()
                break
            except OSError:
                time.sleep(0.1)
        # alternate the two so that the load of the shared machine weighs on both alike
        for _ in range(rounds):
            t0 = time.process_time()
            exp.render()
            ours += time.process_time() - t0
            c0 = cpu_of(peer.pid)
            with urllib.request.urlopen(url, timeout=5) as resp:
                resp.read()
            theirs += cpu_of(peer.pid) - c0
    finally:
        peer.terminate()
        peer.wait(10)
    ours, theirs = ours / rounds, theirs / rounds
    print(f"export scrape CPU: ours {ours * 1e3:.2f} ms, node_exporter {theirs * 1e3:.2f} ms, "
          f"ratio {ours / theirs:.2f}" if theirs > 0 else
          f"export scrape CPU: ours {ours * 1e3:.2f} ms, node_exporter below clock resolution")


def bench_net(rounds: int) -> None:
    sc = SocketCollector()
    sc.sockets(tcp=True)
    ours = theirs = 0.0
    n = 0
    for _ in range(rounds):  # alternated, as above
        t0 = time.process_time()
        n = len(sc.sockets(tcp=True))
        ours += time.process_time() - t0
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["ss", "-tanp"], check=True, stdout=subprocess.DEVNULL)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        theirs += (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    ours, theirs = ours / rounds, theirs / rounds
    procs = sum(1 for name in os.listdir("/proc") if name.isdigit())
    print(f"net socket refresh CPU ({n} sockets, {procs} processes): ours {ours * 1e3:.2f} ms, "
          f"ss -tanp {theirs * 1e3:.2f} ms, ratio {ours / theirs:.2f}")


def bench_net_pid(rounds: int) -> None:
    """The sockets of one process (a listener of ours) against the whole table."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sc = SocketCollector()
        pids = [os.getpid()]
        sc.sockets(tcp=True, pids=pids)
        one = whole = 0.0
        n = 0
        for _ in range(rounds):  # alternated, as above
            t0 = time.process_time()
            sc.sockets(tcp=True, pids=pids)
            t1 = time.process_time()
            n = len(sc.sockets(tcp=True))
            one += t1 - t0
            whole += time.process_time() - t1
    one, whole = one / rounds, whole / rounds
    print(f"net --pid socket refresh CPU ({n} sockets): ours {one * 1e3:.2f} ms, whole table "
          f"{whole * 1e3:.2f} ms, ratio {one / whole:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    bench_export(args.rounds)
    bench_net(args.rounds)
    bench_net_pid(args.rounds)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
