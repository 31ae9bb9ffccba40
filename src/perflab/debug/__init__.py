"""Production debugging: memory leaks (``leak``, ``memcheck``) and the Python debug agent.

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
    from perflab.debug._leak import LeakOptions, LeakTarget, run_watch
    from perflab.debug._leak_sources import pid_listening_on
    from perflab.debug._leak_store import LeakRecorder, leak_reports
    from perflab.debug._memcheck import memcheck_asan_log, memcheck_command, store_memcheck
    from perflab.debug._page_leak import add_debug_part, debug_section_html
    from perflab.debug._sitepath import agent_env, site_dir

# public name -> the private module that defines it, imported on first use
_LAZY = {
    "AgentError": "_agent_client", "agent_get": "_agent_client", "has_agent": "_agent_client",
    "site_dir": "_sitepath", "agent_env": "_sitepath",
    "LeakOptions": "_leak", "LeakTarget": "_leak", "run_watch": "_leak",
    "LeakRecorder": "_leak_store", "leak_reports": "_leak_store",
    "pid_listening_on": "_leak_sources",
    "memcheck_asan_log": "_memcheck", "memcheck_command": "_memcheck",
    "store_memcheck": "_memcheck",
    "add_debug_part": "_page_leak", "debug_section_html": "_page_leak",
}

__all__ = [
    "AgentError",
    "LeakOptions",
    "LeakRecorder",
    "LeakTarget",
    "add_debug_part",
    "agent_env",
    "agent_get",
    "debug_dir",
    "debug_section_html",
    "disable",
    "enable",
    "has_agent",
    "leak_reports",
    "memcheck_asan_log",
    "memcheck_command",
    "pid_listening_on",
    "register",
    "run_watch",
    "site_dir",
    "socket_path",
    "store_memcheck",
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
