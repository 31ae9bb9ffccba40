"""What a leaking process runs into: the nearest ``memory.max`` of its cgroup (v2) or its
ancestors', else the machine's available memory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from perflab.collect import parse_meminfo


@dataclass(frozen=True, slots=True)
class Limit:
    kind: str          # "cgroup" or "machine"
    bytes: int         # the limit: memory.max, or MemTotal
    headroom: int      # what is left: memory.max - memory.current, or MemAvailable
    where: str         # the cgroup's path, or "/proc/meminfo"


def memory_limit(pid: int | None, *, proc_root: Path = Path("/proc"),
                 cgroup_root: Path = Path("/sys/fs/cgroup")) -> Limit | None:
    """The limit process ``pid`` (or, without one, the machine) grows towards, if readable."""
    if pid is not None:
        found = _cgroup_limit(pid, proc_root, cgroup_root)
        if found is not None:
            return found
    try:
        info = parse_meminfo((proc_root / "meminfo").read_text())
    except OSError:
        return None
    total = info.get("MemTotal", 0)
    if not total:
        return None
    return Limit("machine", total, info.get("MemAvailable", info.get("MemFree", 0)),
                 "/proc/meminfo")


def _cgroup_limit(pid: int, proc_root: Path, cgroup_root: Path) -> Limit | None:
    try:
        lines = (proc_root / str(pid) / "cgroup").read_text().splitlines()
    except OSError:
        return None
    rel = next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), None)
    if rel is None:
        return None
    here = (cgroup_root / rel.lstrip("/")).resolve()
    root = cgroup_root.resolve()
    while here == root or root in here.parents:
        try:
            raw = (here / "memory.max").read_text().strip()
            if raw != "max":
                current = int((here / "memory.current").read_text().strip())
                limit = int(raw)
                return Limit("cgroup", limit, max(0, limit - current),
                             "/" + str(here.relative_to(root)))
        except (OSError, ValueError):
            pass
        if here == root:
            break
        here = here.parent
    return None


def hours_to(limit: Limit | None, slope_per_s: float) -> float | None:
    """Hours until the headroom is used at ``slope_per_s`` bytes per second (None if not
    growing or no limit)."""
    if limit is None or slope_per_s <= 0:
        return None
    return limit.headroom / slope_per_s / 3600
