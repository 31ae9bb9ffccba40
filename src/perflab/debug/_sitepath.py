"""How ``perflab run --debug`` starts the agent in a Python child without a change to its code:
a ``sitecustomize`` first on its PYTHONPATH."""

from __future__ import annotations

import os
from pathlib import Path


def site_dir() -> Path:
    """The directory holding perflab's ``sitecustomize`` (it starts the agent, then chains to
    the next ``sitecustomize`` on the path, such as OpenTelemetry's zero-code one)."""
    return Path(__file__).parent / "_site"


def agent_env(base: dict[str, str], *, then: list[str] | None = None) -> dict[str, str]:
    """``base`` plus what starts the agent in any Python it runs: perflab's ``sitecustomize``
    directory first on PYTHONPATH, then the directories in ``then`` (another ``sitecustomize``
    to chain to), then the user's PYTHONPATH; ``PERFLAB_DEBUG_ROOT`` says where perflab is, so a
    Python without perflab installed can still import the agent (it needs only the stdlib)."""
    env = dict(base)
    ours = [str(site_dir()), *(then or [])]
    existing = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in ours]
    env["PYTHONPATH"] = os.pathsep.join([*ours, *existing])
    env["PERFLAB_DEBUG_ROOT"] = str(Path(__file__).resolve().parents[2])
    env["PERFLAB_DEBUG"] = "1"
    return env
