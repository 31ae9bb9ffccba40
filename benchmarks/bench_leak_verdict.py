"""The leak verdict on a real process (benchmarks/_sawtooth.py: a 50 MB RSS sawtooth with a 30 s
period), and tracemalloc's own cost on a Python service.

- ``--part leak``: with a leak of 1 MB/min under the sawtooth, ``perflab leak PID -d 2m -i 1s``
  must say leak (the issue's figure: a verdict within 2 minutes). The process runs 30 s first
  (the watch's default warm-up), then the 2-minute watch starts.
- ``--part clean``: the same sawtooth without the leak, watched for 10 minutes: no false alarm.
- ``--part tracemalloc``: a Python service (tests/fixtures/debug/pyleak.py --no-leak, made
  busy) with the debug agent; its throughput with tracemalloc off and on (1 frame, then 16, as
  the demo and perflab leak's default use), alternating, 5 rounds of 5 s each way.

    python benchmarks/bench_leak_verdict.py --part leak|clean|tracemalloc|all
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC)}


def _start(args: list[str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, *args], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("ready"), line
    return proc, int(line.split()[1])


def watch(leak_mb_per_min: float, minutes: float) -> dict[str, Any]:
    proc, pid = _start([str(ROOT / "benchmarks" / "_sawtooth.py"), "--leak-mb-per-min",
                        str(leak_mb_per_min), "--seconds", str(minutes * 60 + 120)])
    try:
        time.sleep(30)  # the watch's default warm-up: the process is 30 s old when it starts
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            out = subprocess.run(
                [sys.executable, "-m", "perflab", "leak", str(pid), "-d", f"{minutes * 60:g}s",
                 "-i", "1s", "--json", "--store", str(Path(tmp) / "lab.db")],
                env=ENV, capture_output=True, text=True, check=False)
            took = time.monotonic() - started
        report = json.loads(out.stdout)
        rss = next(s for s in report["series"] if s["name"] == "rss")
        return {"leak_mb_per_min": leak_mb_per_min, "watch_s": round(took, 1),
                "exit_code": out.returncode, "verdict": report["verdict"],
                "reason": report["reason"], "growth_mb_per_h": round(report["growth_mb_per_h"], 1),
                "rss_period_s": rss["period_s"], "rss_points": rss["points"],
                "rss_p": rss["p_value"], "rss_growth_mb_per_h": round(rss["growth_per_h"] / 1e6, 2)}
    finally:
        proc.kill()
        proc.wait()


def tracemalloc_cost(frames: int, rounds: int = 5, seconds: float = 5.0) -> dict[str, Any]:
    """Throughput of a busy Python loop with tracemalloc off and on, alternating."""
    script = ROOT / "tests" / "fixtures" / "debug" / "pyleak.py"
    with tempfile.TemporaryDirectory() as agents:
        env = {**ENV, "PERFLAB_DEBUG_DIR": agents}
        proc = subprocess.Popen([sys.executable, str(script), "--no-leak", "--rate", "0",
                                 "--busy"], env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        pid = int(proc.stdout.readline().split()[1])
        sys.path.insert(0, str(SRC))
        from perflab.debug import agent_get  # noqa: PLC0415

        directory = Path(agents)
        rates: dict[str, list[float]] = {"off": [], "on": []}
        try:
            for _ in range(rounds):
                for mode in ("off", "on"):
                    if mode == "on":
                        agent_get(pid, "/tracemalloc/start", {"frames": str(frames)},
                                  directory=directory)
                    before = agent_get(pid, "/busy", directory=directory)
                    time.sleep(seconds)
                    after = agent_get(pid, "/busy", directory=directory)
                    rates[mode].append((after["requests"] - before["requests"])
                                       / (after["time"] - before["time"]))
                    if mode == "on":
                        agent_get(pid, "/tracemalloc/stop", directory=directory)
        finally:
            proc.kill()
            proc.wait()
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    return {"requests_per_s_off": round(off), "requests_per_s_on": round(on),
            "tracemalloc_cost_pct": round((1 - on / off) * 100, 1), "frames": frames,
            "rounds": rounds, "seconds_each": seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["leak", "clean", "tracemalloc", "all"], default="all")
    args = parser.parse_args()
    if args.part in ("leak", "all"):
        print(json.dumps({"leak": watch(1.0, 2)}), flush=True)
    if args.part in ("clean", "all"):
        print(json.dumps({"clean": watch(0.0, 10)}), flush=True)
    if args.part in ("tracemalloc", "all"):
        for frames in (1, 16):
            print(json.dumps({"tracemalloc": tracemalloc_cost(frames)}), flush=True)


if __name__ == "__main__":
    main()
