"""Exact renderings of the `perflab proc` tables for the fixture process, wide and narrow."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from perflab.cli import _proc_view as view
from perflab.cli import main
from perflab.collect.procinfo import inspect_process

FIXTURE = Path(__file__).parent.parent / "fixtures" / "proc_one"

# the open files table fits 80 columns: the same at both widths
FILES = """\
Open files (11)
FD   TYPE   MODE     POS   NAME
──────────────────────────────────────────────────────────
 0   CHR    r          -   /dev/null
 1   REG    w      1,234   /etc/passwd
 3   TCP    u          -   127.0.0.1:8080 (LISTEN)
 4   TCP    u          -   [::1]:8080->[::1]:54321 (ESTAB)
7 more open files not shown (--files N, --json)
"""

WIDE = """\
Mappings (top 4 of 6 by RSS, sizes in KiB, like pmap -x)
ADDRESS        KBYTES      RSS      PSS    DIRTY   SWAP   MODE   MAPPING
────────────────────────────────────────────────────────────────────────────────────────────────────
55d0c1000000   32,768   30,000   30,000   30,000     64   rw-p   [heap]
7f0000000000   20,480   12,000   12,000   12,000      0   rw-p   [anon]
7f0002000000    2,048    1,200      300        0      0   r-xp   /usr/lib/x86_64-linux-gnu/libc.so.6
7ffc00000000      132       40       40       40      0   rw-p   [stack]

total          55,440   43,252   42,350   42,044     64
Threads (2, busiest first)
 TID   NAME         S   CPU%   CPU TIME   RUNQ%   VCSW   NVCSW   WCHAN
──────────────────────────────────────────────────────────────────────────────
4242   app (main)   S      -      3.80s       -    100       5   do_epoll_wait
4243   worker-1     R      -      500ms       -      7      40   running
""" + FILES

NARROW = """\
Mappings (top 4 of 6 by RSS, sizes in KiB, like pmap -x)
ADDRESS        KBYTES      RSS    DIRTY   MODE   MAPPING
────────────────────────────────────────────────────────────────────────────────
55d0c1000000   32,768   30,000   30,000   rw-p   [heap]
7f0000000000   20,480   12,000   12,000   rw-p   [anon]
7f0002000000    2,048    1,200        0   r-xp   …lib/x86_64-linux-gnu/libc.so.6
7ffc00000000      132       40       40   rw-p   [stack]

total          55,440   43,252   42,044
Threads (2, busiest first)
 TID   NAME         S   CPU%   CPU TIME   RUNQ%   WCHAN
───────────────────────────────────────────────────────────────
4242   app (main)   S      -      3.80s       -   do_epoll_wait
4243   worker-1     R      -      500ms       -   running
""" + FILES


@pytest.mark.parametrize(("width", "expected"), [(100, WIDE), (80, NARROW)])
def test_maps_threads_and_files_tables_render_exactly(width: int, expected: str):
    """pmap -x columns (PSS and SWAP only when wide), busiest threads, lsof-like files; long
    paths are cut on the left, and only when they do not fit."""
    report = inspect_process(4242, proc_root=FIXTURE, interval=0, top_maps=4)
    assert report.memory is not None
    assert report.files is not None
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    console.print(view._maps_table(report.memory, width=width, wide=width >= 100))
    console.print(view._threads_table(report.threads, 5, wide=width >= 100))
    console.print(view._files_table(report.files, 4, width=width))
    text = "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"
    assert text == expected


def test_interval_zero_shows_totals_only_as_documented(capsys):
    """Bug 6: docs/proc.md says `--interval 0` shows totals only, but the CLI refused it."""
    assert main(["proc", str(os.getpid()), "--interval", "0", "--json"]) == 0
    sched = json.loads(capsys.readouterr().out)["scheduling"]
    assert sched["interval_s"] == 0
    assert sched["cpu_pct"] is None  # no rate without an interval, rather than a made-up 0
    assert sched["cpu_user_s"] is not None
    assert main(["proc", str(os.getpid()), "--interval", "0s"]) == 0
    assert "totals only: --interval 0" in capsys.readouterr().out
    # a negative interval is still refused, in perflab's words
    assert main(["proc", str(os.getpid()), "--interval", "-1s"]) == 2
    assert "invalid duration" in capsys.readouterr().err
