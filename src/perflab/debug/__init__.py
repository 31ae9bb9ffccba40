"""Production debugging: goroutine dumps, partial deadlocks, data races, Python stacks and locks.

Public names only; the implementation lives in private modules.
"""

from __future__ import annotations

from perflab.debug._deadlock import DeadlockFinding, find_deadlocks
from perflab.debug._goroutines import GoFrame, Goroutine, GoroutineDump, parse_goroutines
from perflab.debug._goroutines_group import diff_dumps, group_goroutines, state_counts
from perflab.debug._goroutines_report import GoroutineReport
from perflab.debug._goroutines_report import analyze as analyze_goroutines
from perflab.debug._goroutines_report import load_dump as load_goroutine_dump
from perflab.debug._goroutines_report import load_profile as load_pprof_profile
from perflab.debug._goroutines_report import render_text as render_goroutines
from perflab.debug._race import RaceGroup, RaceLog, parse_race_log

__all__ = [
    "DeadlockFinding",
    "GoFrame",
    "Goroutine",
    "GoroutineDump",
    "GoroutineReport",
    "RaceGroup",
    "RaceLog",
    "analyze_goroutines",
    "diff_dumps",
    "find_deadlocks",
    "group_goroutines",
    "load_goroutine_dump",
    "load_pprof_profile",
    "parse_goroutines",
    "parse_race_log",
    "render_goroutines",
    "state_counts",
]
