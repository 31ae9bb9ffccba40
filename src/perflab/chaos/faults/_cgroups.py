"""Putting a hog in its target's cgroups, so that it competes inside the target's limits.

A CPU hog beside a container competes with the whole machine; inside the container's cgroup it
eats the container's own CPU quota and memory limit, which is the fault users mean. cgroup v2
(the ``0::`` line) and, on a hybrid host, the v1 hierarchies of the controllers the hog uses.
Only a cgroup of the target's own is joined: a target in a root cgroup has none, and the hog
then stays where perflab runs (it never leaves perflab's cgroups for a root one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from perflab.collect import parse_cgroup

CONTROLLERS = {"cpu": ("cpu", "cpuacct", "cpuset"), "memory": ("memory",),
               "io": ("blkio", "io")}


@dataclass(frozen=True)
class CgroupJoin:
    """The ``cgroup.procs`` files a hog writes itself into, and what to tell the user."""

    procs_files: tuple[Path, ...]
    description: str


def _mounts(mountinfo: str) -> tuple[Path | None, dict[str, Path]]:
    """The cgroup2 mount point and the v1 mount point of each controller."""
    v2: Path | None = None
    v1: dict[str, Path] = {}
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        if rfields[0] == "cgroup2" and v2 is None:
            v2 = Path(fields[4])
        elif rfields[0] == "cgroup":
            for opt in rfields[2].split(","):
                v1.setdefault(opt, Path(fields[4]))
    return v2, v1


def cgroup_join(target_pid: int, resource: str, *, proc_root: str = "/proc") -> CgroupJoin:
    """Where a hog of ``resource`` (cpu, memory, io) joins ``target_pid``'s cgroups."""
    try:
        v2_path, v1_paths = parse_cgroup(Path(f"{proc_root}/{target_pid}/cgroup").read_text())
        v2_mount, v1_mounts = _mounts(Path(f"{proc_root}/self/mountinfo").read_text())
    except OSError:
        return CgroupJoin((), "the target's cgroup cannot be read: the hog runs beside it")
    files: list[Path] = []
    said: list[str] = []
    if v2_path not in (None, "/") and v2_mount is not None:
        files.append(v2_mount / v2_path.lstrip("/") / "cgroup.procs")
        said.append(f"cgroup v2 {v2_path}")
    for controllers, path in v1_paths.items():
        names = controllers.split(",")
        wanted = [c for c in names if c in CONTROLLERS[resource]]
        mount = next((v1_mounts[c] for c in names if c in v1_mounts), None)
        if wanted and path != "/" and mount is not None:
            files.append(mount / path.lstrip("/") / "cgroup.procs")
            said.append(f"{controllers} {path}")
    if not files:
        return CgroupJoin((), "the target is in a root cgroup: the hog runs beside it")
    return CgroupJoin(tuple(files), f"in PID {target_pid}'s cgroup ({'; '.join(said)})")


def join_self(join: CgroupJoin) -> None:
    """Move the calling process into ``join``'s cgroups (a hog, before it execs)."""
    for procs in join.procs_files:
        procs.write_text("0\n")  # "0": the writing process itself
