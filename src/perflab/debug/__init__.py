"""Production debugging: memory leaks (``leak``, ``memcheck``), goroutine dumps, partial
deadlocks and data races (``goroutines``, ``race``), and the Python debug agent.

The agent is a daemon thread in a Python process answering GET on a private unix socket
(``perflab.debug.enable()``, ``PERFLAB_DEBUG=1`` when this package is imported, or ``perflab run
--debug``, which needs no change to the program). Importing this package imports only the
standard library and the agent: the heavier parts load on first use of their names, so a user's
process pays nothing for what it does not call.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from perflab.debug._agent import debug_dir, disable, enable, enable_from_env, register, socket_path

if TYPE_CHECKING:
    from perflab.debug._agent_client import AgentError, agent_get, has_agent
    from perflab.debug._contracts import (
        GoroutinesBody,
        GoroutinesReport,
        GotraceBody,
        GotraceReport,
        RaceBody,
        RaceReportDoc,
        StacksBody,
        StacksReportDoc,
    )
    from perflab.debug._deadlock import DeadlockFinding, find_deadlocks
    from perflab.debug._goroutines import GoFrame, Goroutine, GoroutineDump, parse_goroutines
    from perflab.debug._goroutines_group import diff_dumps, group_goroutines, state_counts
    from perflab.debug._goroutines_report import (
        GoroutineReport,
        analyze_goroutines,
        load_goroutine_dump,
        load_pprof_profile,
        pprof_url,
        render_goroutines,
    )
    from perflab.debug._gotrace import TraceProfiles, blocking_profiles, merge_traces
    from perflab.debug._leak import LeakOptions, LeakTarget, run_watch
    from perflab.debug._leak_sources import pid_listening_on
    from perflab.debug._leak_store import LeakRecorder, leak_reports
    from perflab.debug._lockwatch import lockwatch, unwatch
    from perflab.debug._memcheck import memcheck_asan_log, memcheck_command, store_memcheck
    from perflab.debug._page_leak import add_debug_part, debug_section_html
    from perflab.debug._race import RaceGroup, RaceLog, parse_race_log
    from perflab.debug._sitepath import agent_env, site_dir
    from perflab.debug._stacks import StacksReport, python_stacks, python_stacks_from_agent
    from perflab.debug._watch import Watch, thread_states

# public name -> the private module that defines it, imported on first use
_LAZY = {
    "AgentError": "_agent_client", "agent_get": "_agent_client", "has_agent": "_agent_client",
    "site_dir": "_sitepath", "agent_env": "_sitepath",
    # the --json documents' contracts (for annotations; they are TypedDicts)
    "GoroutinesBody": "_contracts", "GoroutinesReport": "_contracts", "GotraceBody": "_contracts",
    "GotraceReport": "_contracts", "RaceBody": "_contracts", "RaceReportDoc": "_contracts",
    "StacksBody": "_contracts", "StacksReportDoc": "_contracts",
    "DeadlockFinding": "_deadlock", "find_deadlocks": "_deadlock",
    "GoFrame": "_goroutines", "Goroutine": "_goroutines", "GoroutineDump": "_goroutines",
    "parse_goroutines": "_goroutines", "diff_dumps": "_goroutines_group",
    "group_goroutines": "_goroutines_group", "state_counts": "_goroutines_group",
    "GoroutineReport": "_goroutines_report", "analyze_goroutines": "_goroutines_report",
    "load_goroutine_dump": "_goroutines_report", "load_pprof_profile": "_goroutines_report",
    "render_goroutines": "_goroutines_report", "pprof_url": "_goroutines_report",
    "TraceProfiles": "_gotrace", "blocking_profiles": "_gotrace", "merge_traces": "_gotrace",
    "RaceGroup": "_race", "RaceLog": "_race", "parse_race_log": "_race",
    "lockwatch": "_lockwatch", "unwatch": "_lockwatch",
    "StacksReport": "_stacks", "python_stacks": "_stacks", "python_stacks_from_agent": "_stacks",
    "Watch": "_watch", "thread_states": "_watch",
    "LeakOptions": "_leak", "LeakTarget": "_leak", "run_watch": "_leak",
    "LeakRecorder": "_leak_store", "leak_reports": "_leak_store",
    "pid_listening_on": "_leak_sources",
    "memcheck_asan_log": "_memcheck", "memcheck_command": "_memcheck",
    "store_memcheck": "_memcheck",
    "add_debug_part": "_page_leak", "debug_section_html": "_page_leak",
}

__all__ = [
    "AgentError",
    "DeadlockFinding",
    "GoFrame",
    "Goroutine",
    "GoroutineDump",
    "GoroutineReport",
    "GoroutinesBody",
    "GoroutinesReport",
    "GotraceBody",
    "GotraceReport",
    "LeakOptions",
    "LeakRecorder",
    "LeakTarget",
    "RaceBody",
    "RaceGroup",
    "RaceLog",
    "RaceReportDoc",
    "StacksBody",
    "StacksReport",
    "StacksReportDoc",
    "TraceProfiles",
    "Watch",
    "add_debug_part",
    "agent_env",
    "agent_get",
    "analyze_goroutines",
    "blocking_profiles",
    "debug_dir",
    "debug_section_html",
    "diff_dumps",
    "disable",
    "enable",
    "find_deadlocks",
    "group_goroutines",
    "has_agent",
    "leak_reports",
    "load_goroutine_dump",
    "load_pprof_profile",
    "lockwatch",
    "memcheck_asan_log",
    "memcheck_command",
    "merge_traces",
    "parse_goroutines",
    "parse_race_log",
    "pid_listening_on",
    "pprof_url",
    "python_stacks",
    "python_stacks_from_agent",
    "register",
    "render_goroutines",
    "run_watch",
    "site_dir",
    "socket_path",
    "state_counts",
    "store_memcheck",
    "thread_states",
    "unwatch",
]


def __getattr__(name: str) -> Any:  # whatever the lazy module defines
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'perflab.debug' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"perflab.debug.{module}"), name)
    globals()[name] = value
    return value


enable_from_env()
