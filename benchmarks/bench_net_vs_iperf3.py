"""perflab bench net against iperf3 on loopback, in the same run: rounds alternate the two
(iperf3 -s -1 then iperf3 -c ... -J; perflab bench net --json), each ``--time`` long, and the
ratio of the medians of end.sum_received.bits_per_second is the figure (goal >= 0.9).

With --netns (root) both run between two network namespaces joined by a veth pair: perflab's
``bench net --netns`` makes its own; iperf3's server and client run in a pair this script makes
the same way (``ip netns exec``) and deletes afterwards.

    python benchmarks/bench_net_vs_iperf3.py [--time 5] [--rounds 3] [--parallel 1] [--netns]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from perflab.netcap import endpoints
from perflab.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _iperf3(iperf3: str, seconds: int, streams: int, netns: tuple[str, str] | None) -> float:
    port = free_port()
    host = "127.0.0.1" if netns is None else "169.254.0.1"
    server_in = [] if netns is None else ["ip", "netns", "exec", netns[0]]
    client_in = [] if netns is None else ["ip", "netns", "exec", netns[1]]
    server = subprocess.Popen([*server_in, iperf3, "-s", "-1", "-p", str(port), "-B", host],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            client = subprocess.run([*client_in, iperf3, "-c", host, "-p", str(port), "-t",
                                     str(seconds), "-P", str(streams), "-J"], check=False,
                                    capture_output=True, text=True)
            # iperf3 -J may exit 0 with {"error": "unable to connect ..."}: not listening yet
            if client.returncode == 0 and '"error"' not in client.stdout:
                out = client.stdout
                break
            time.sleep(0.1)
        else:
            raise SystemExit("iperf3 server never answered")
    finally:
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return float(json.loads(out)["end"]["sum_received"]["bits_per_second"])


def _perflab(seconds: int, streams: int, *, netns: bool) -> float:
    out = subprocess.run([sys.executable, "-m", "perflab", "bench", "net", "-t", f"{seconds}s",
                          "-P", str(streams), "--json", *(["--netns"] if netns else [])],
                         env=ENV, check=True,
                         capture_output=True, text=True).stdout
    return float(json.loads(out)["end"]["sum_received"]["bits_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--netns", action="store_true", help="across a veth pair (root)")
    args = parser.parse_args()
    iperf3 = shutil.which("iperf3")
    if iperf3 is None:
        raise SystemExit("iperf3 is not installed: apt-get install iperf3")
    theirs, ours = [], []
    with endpoints(netns=args.netns) as ends:  # iperf3's pair (perflab makes its own)
        pair = None if ends.server_ns is None or ends.client_ns is None else (
            ends.server_ns, ends.client_ns)
        for _ in range(args.rounds):
            theirs.append(_iperf3(iperf3, args.time, args.parallel, pair))
            ours.append(_perflab(args.time, args.parallel, netns=args.netns))
    a, b = statistics.median(ours), statistics.median(theirs)
    where = "between two namespaces (veth)" if args.netns else "loopback"
    print(f"TCP {where}, {args.parallel} stream(s), {args.time} s x {args.rounds} rounds")
    for name, median, values in (("iperf3", b, theirs), ("perflab bench net", a, ours)):
        rounds = [round(x / 1e9, 2) for x in values]
        print(f"{name + ':':19}{median / 1e9:.2f} Gbit/s (median; {rounds})")
    print(f"ratio: {a / b:.2f}x (goal >= 0.9)")


if __name__ == "__main__":
    main()
