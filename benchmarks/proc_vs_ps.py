"""perflab proc against ps, pmap -x and lsof on live processes of several sizes.

For each child (10, 50 and 200 MB resident, a few threads, files and a socket) it prints
perflab's RSS over ps's RSS read around it, the maps total over pmap -x's total RSS, threads vs
ps nlwp, open fds vs lsof; then the CPU time of one perflab read (interval 0) over the CPU time
of running ps + pmap -x + lsof -p once each, which show the same things.

    PYTHONPATH=src .venv/bin/python benchmarks/proc_vs_ps.py
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import textwrap
import time

from perflab.collect.procinfo import inspect_process

CHILD = textwrap.dedent("""
    import socket, sys, threading, time
    files = [open(sys.argv[2] + f".{i}", "w") for i in range(5)]
    listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
    block = b"\\x01" * (int(sys.argv[1]) * 2**20)
    for _ in range(3):
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()
""")
REPEAT = 20


def run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def ps(pid: int, field: str) -> int:
    return int(run(["ps", "-o", f"{field}=", "-p", str(pid)]).strip())


def pmap_total_rss_kb(pid: int) -> int:
    last = run(["pmap", "-x", str(pid)]).strip().splitlines()[-1]  # "total kB  VSZ RSS DIRTY"
    return int(last.split()[3])


def lsof_fds(pid: int) -> int:
    out = run(["lsof", "-nP", "-a", "-p", str(pid), "-d", "0-999999", "-F", "f"])
    return sum(1 for line in out.splitlines() if line.startswith("f") and line[1:].isdigit())


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def self_cpu() -> float:
    return time.process_time()


def main() -> None:
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for mb in (10, 50, 200):
            child = subprocess.Popen([sys.executable, "-c", CHILD, str(mb), f"{tmp}/f{mb}"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                assert child.stdout is not None
                child.stdout.readline()
                pid = child.pid
                before = ps(pid, "rss")
                report = inspect_process(pid, interval=0)
                after = ps(pid, "rss")
                mem = report.memory
                assert mem is not None
                assert mem.rss is not None
                assert mem.maps is not None
                ratio = mem.rss / 1024 / ((before + after) / 2)
                worst = max(worst, abs(ratio - 1))
                maps_ratio = mem.maps.total_rss / 1024 / pmap_total_rss_kb(pid)
                fds = len(report.files or [])
                print(f"child {mb:>3} MB: rss perflab/ps = {ratio:.4f}  "
                      f"maps total rss perflab/pmap -x = {maps_ratio:.4f}  "
                      f"threads {len(report.threads)} vs ps nlwp {ps(pid, 'nlwp')}  "
                      f"fds {fds} vs lsof {lsof_fds(pid)}")
                # cost: one full read by perflab vs ps + pmap -x + lsof -p (CPU time, not wall)
                c0 = self_cpu()
                for _ in range(REPEAT):
                    inspect_process(pid, interval=0)
                ours = (self_cpu() - c0) / REPEAT
                p0 = children_cpu()
                for _ in range(REPEAT):
                    run(["ps", "-o", "pid,ppid,user,rss,nlwp,stat,cmd", "-p", str(pid)])
                    run(["pmap", "-x", str(pid)])
                    run(["lsof", "-nP", "-p", str(pid)])
                peers = (children_cpu() - p0) / REPEAT
                print(f"child {mb:>3} MB: cpu per read perflab {ours * 1e3:.1f} ms, "
                      f"ps+pmap+lsof {peers * 1e3:.1f} ms, ratio perflab/peers = "
                      f"{ours / peers:.2f}")
            finally:
                child.kill()
                child.wait()
                for pipe in (child.stdin, child.stdout):
                    if pipe is not None:
                        pipe.close()
    print(f"rss vs ps: worst deviation = {worst * 100:.2f}%")


if __name__ == "__main__":
    main()
