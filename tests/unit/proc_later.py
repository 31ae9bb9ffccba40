"""The fake /proc tree two seconds later: the edits tests apply to a copy of tests/fixtures/proc.

Deltas (over 2 s): CPU user +100, system +50, idle +800, iowait +50 ticks (10/5/80/5 %);
ctxt +2000; vda +100 reads (+800 sectors, +300 ms), +400 writes (+8000 sectors, +2000 ms),
io_time +1000 ms, weighted +3000 ms; eth0 rx +200000 bytes; RetransSegs +10, OutRsts +4,
ListenOverflows +2, ListenDrops +4; io "some" stall +0.5 s; pswpin +50 pages;
PID 4243 +100 utime and +100 stime ticks (schedstat +2 s of run time), write_bytes +2 MiB.
"""

from __future__ import annotations

import shutil
from pathlib import Path

FIXTURE = Path(__file__).parent.parent / "fixtures" / "proc"

LATER: dict[str, str] = {
    "stat": (
        "cpu  10100 200 3050 80800 550 0 300 0 0 0\n"
        "cpu0 6050 100 1525 39400 325 0 200 0 0 0\n"
        "cpu1 4050 100 1525 41400 225 0 100 0 0 0\n"
        "intr 123456 0 0 0\nctxt 989654\nbtime 1795000000\nprocesses 54330\n"
        "procs_running 2\nprocs_blocked 0\n"
    ),
    "diskstats": (
        "   7       0 loop0 10 0 20 1 0 0 0 0 0 1 1 0 0 0 0 0 0\n"
        " 254       0 vda 1100 50 80800 2300 3400 400 248000 11000 0 6000 14000 0 0 0 0 100 50\n"
        " 254       1 vda1 1000 50 79800 2200 3300 400 247000 10900 0 5900 13800 0 0 0 0 0 0\n"
        " 253       0 zram0 5 0 40 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    ),
    "net/dev": (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets"
        " errs drop fifo colls carrier compressed\n"
        "    lo:  100000    1000    0    0    0     0          0         0   100000    1000"
        "    0    0    0     0       0          0\n"
        "  eth0: 5200000    8200    2    3    0     0          0         0  2000000    6000"
        "    1    4    0     0       0          0\n"
    ),
    "net/snmp": (
        "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails"
        " EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n"
        "Tcp: 1 200 120000 -1 500 700 3 4 5 100000 90000 130 0 64 0\n"
    ),
    "net/netstat": (
        "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPTimeouts\n"
        "TcpExt: 0 9 13 11\n"
    ),
    "pressure/io": (
        "some avg10=6.00 avg60=3.00 avg300=1.00 total=9500000\n"
        "full avg10=4.00 avg60=2.00 avg300=0.75 total=7000000\n"
    ),
    "vmstat": "pswpin 150\npswpout 200\npgmajfault 310\n",
    "4243/stat": (
        "4243 (python3) R 1 4243 4243 0 -1 4194304 90000 0 12 0 3100 1100 0 0 20 0 4 0 6000"
        " 900000000 26000 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 0 0 0 30 0 0\n"
    ),
    "4243/schedstat": "42000000000 510000000 80400\n",
    "4243/io": (
        "rchar: 100\nwchar: 200\nsyscr: 1\nsyscw: 2\nread_bytes: 0\nwrite_bytes: 2138112\n"
        "cancelled_write_bytes: 0\n"
    ),
}


def copy_tree(dest: Path) -> Path:
    """A writable copy of the fake /proc at ``dest``; returns its root."""
    shutil.copytree(FIXTURE, dest)
    return dest


def advance(root: Path) -> None:
    """Turn a copy of the fake /proc into its state two seconds later."""
    for rel, text in LATER.items():
        (root / rel).write_text(text)
