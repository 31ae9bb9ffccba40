# ruff: noqa: INP001  # a lone file put on a child's PYTHONPATH, not a package
"""Started by ``perflab run --debug``: start perflab's debug agent in this Python process, then
run the next ``sitecustomize`` on the path (the user's own, or OpenTelemetry's zero-code one that
``run --debug --trace`` puts after this directory), as if this one were not here.

Nothing here may stop the program: any failure is one line on stderr.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))  # noqa: PTH100, PTH120  # no pathlib at startup


def _import_agent() -> Any:  # the module
    """perflab's agent module: the importable perflab's if it has one, else the one at
    ``PERFLAB_DEBUG_ROOT`` (the perflab that started us; this Python may have none, or an older
    one without the agent: then the program sees that perflab too)."""
    try:
        from perflab.debug import _agent  # noqa: PLC0415
    except ImportError:
        root = os.environ.get("PERFLAB_DEBUG_ROOT")
        if not root:
            raise
        for name in [m for m in sys.modules if m == "perflab" or m.startswith("perflab.")]:
            del sys.modules[name]
        sys.path.insert(0, root)
        try:
            from perflab.debug import _agent  # noqa: PLC0415
        finally:
            sys.path.remove(root)
    return _agent


def _start_agent() -> None:
    try:
        _import_agent().enable()
    except Exception as exc:  # the program must run even if the agent cannot
        sys.stderr.write(f"perflab debug agent: not started: {type(exc).__name__}: {exc}\n")


def _chain() -> None:
    """Load the next ``sitecustomize`` on sys.path (skipping this directory) in our place."""
    rest = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]  # noqa: PTH100
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_start_agent()
_chain()
