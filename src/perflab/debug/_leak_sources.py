"""Where the leak watch reads memory from: a process's smaps (RSS, PSS), a Go service's pprof
(heap in use, objects; sites by ``inuse_space``), a Python process's debug agent (tracemalloc's
traced bytes, the collector's objects; sites by traceback)."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Any, Protocol

from perflab.collect import parse_smaps_rollup
from perflab.collect.sockets import INET_TABLES, read_proc_net, socket_owners
from perflab.debug import _goheap
from perflab.debug._agent_client import agent_get
from perflab.debug._goheap import SiteSample
from perflab.errors import AccessDenied, NoSuchProcess


class Source(Protocol):
    """One reader of a target's memory."""

    name: str
    failure: str | None  # why it could not read what it set out to (a note in the report)

    def sample(self) -> dict[str, float]: ...

    def sites(self) -> dict[str, SiteSample] | None: ...

    def close(self) -> None: ...


class ProcSource:
    """RSS and PSS from ``/proc/PID/smaps_rollup`` (the kernel's page-table walk)."""

    name = "procfs"
    failure: str | None = None

    def __init__(self, pid: int, proc_root: Path = Path("/proc")) -> None:
        self.pid = pid
        self.path = proc_root / str(pid) / "smaps_rollup"

    def sample(self) -> dict[str, float]:
        try:
            rollup = parse_smaps_rollup(self.path.read_text())
        except FileNotFoundError as exc:
            raise NoSuchProcess(self.pid) from exc
        except PermissionError as exc:
            raise AccessDenied(f"no permission to read {self.path}",
                               hint="run perflab as the process's user, or as root") from exc
        except ProcessLookupError as exc:
            raise NoSuchProcess(self.pid) from exc
        return {"rss": float(rollup.get("Rss", 0)), "pss": float(rollup.get("Pss", 0))}

    def sites(self) -> dict[str, SiteSample] | None:
        return None

    def close(self) -> None:
        return


class GoSource:
    """The runtime's ``HeapInuse``/``HeapObjects``; sites from the heap profile."""

    name = "go pprof heap (inuse_space)"
    failure: str | None = None

    def __init__(self, url: str) -> None:
        self.url = url

    def sample(self) -> dict[str, float]:
        stats = _goheap.read_memstats(self.url)
        return {"heap_inuse": float(stats["HeapInuse"]),
                "heap_objects": float(stats.get("HeapObjects", 0))}

    def sites(self) -> dict[str, SiteSample] | None:
        return _goheap.sites(_goheap.read_heap(self.url))

    def close(self) -> None:
        return


class PythonAgentSource:
    """tracemalloc through the debug agent: started here (and stopped at the end if it was not
    already tracing), its growth since the baseline by traceback."""

    name = "python tracemalloc (debug agent)"
    failure: str | None = None

    def __init__(self, pid: int, *, frames: int = 16, directory: Path | None = None) -> None:
        self.pid = pid
        self.directory = directory
        started = agent_get(pid, "/tracemalloc/start", {"frames": str(frames)},
                            directory=directory)
        self.started = bool(started.get("started"))

    def _get(self, path: str, query: dict[str, str] | None = None) -> Any:
        return agent_get(self.pid, path, query, directory=self.directory)

    def sample(self) -> dict[str, float]:
        totals = self._get("/tracemalloc/totals")
        return {"traced": float(totals["traced_bytes"]), "objects": float(totals["gc_objects"])}

    def sites(self) -> dict[str, SiteSample] | None:
        answer = self._get("/tracemalloc/diff", {"limit": "200"})
        out: dict[str, SiteSample] = {}
        for site in answer["sites"]:
            frames = site["frames"]
            if not frames:
                continue
            top = frames[0]
            key = f"{top['function']} ({top['file']}:{top['line']})"
            stack = tuple(f"{f['function']} ({f['file']}:{f['line']})" for f in frames)
            prev = out.get(key)
            out[key] = SiteSample(
                top["function"], top["file"], int(top["line"]),
                int(site["size_diff_bytes"]) + (prev.bytes if prev else 0),
                int(site["count_diff"]) + (prev.objects if prev else 0),
                prev.stack if prev else stack)
        return out

    def close(self) -> None:
        if self.started:
            self._get("/tracemalloc/stop")


def pid_listening_on(url: str, proc_root: Path = Path("/proc")) -> int | None:
    """The process listening on the URL's TCP port on this machine (a URL of another host, a
    port no one here listens on, or a socket of another user's process: None)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host not in ("localhost", "127.0.0.1", "::1", "0.0.0.0", "::"):  # noqa: S104
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    listening = {r.inode for r in read_proc_net(proc_root, [t for t in INET_TABLES
                                                            if t[0] == "tcp"])
                 if r.state == "LISTEN" and r.local_port == port}
    if not listening:
        return None
    owners = socket_owners(proc_root)
    pids = {o.pid for inode in listening for o in owners.get(inode, [])}
    return pids.pop() if len(pids) == 1 else None


def process_age_s(pid: int, proc_root: Path = Path("/proc")) -> float | None:
    """Seconds since process ``pid`` started (None if unreadable)."""
    try:
        stat = (proc_root / str(pid) / "stat").read_text()
        uptime = float((proc_root / "uptime").read_text().split()[0])
        # field 22, starttime, in clock ticks since boot; the name before it may hold spaces
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
