"""A Go service's heap through net/http/pprof: the runtime's own figures (``HeapInuse``,
``HeapObjects`` from the ``# runtime.MemStats`` trailer of ``/debug/pprof/heap?debug=1``) for the
trend, and the heap profile (``inuse_space``/``inuse_objects``, already scaled to estimates of
the whole heap by the runtime) by allocation site for the culprit."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from perflab.errors import InvalidFile
from perflab.profile import Frame, Profile, fetch, parse_profile

_MEMSTAT = re.compile(rb"^# (\w+) = (\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class SiteSample:
    """One allocation site's live heap in one profile, with the stack of its biggest sample."""

    function: str
    file: str
    line: int
    bytes: int
    objects: int
    stack: tuple[str, ...]   # leaf first


def heap_url(base: str, *, debug: bool = False) -> str:
    """``/debug/pprof/heap`` below ``base`` (a server root or any ``/debug/pprof/`` URL)."""
    parts = urllib.parse.urlsplit(base)
    path = parts.path
    if "/debug/pprof" in path:
        path = path[: path.index("/debug/pprof")]
    path = path.rstrip("/") + "/debug/pprof/heap"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path,
                                    "debug=1" if debug else "", ""))


def parse_memstats(text: bytes, source: str = "<heap?debug=1>") -> dict[str, int]:
    """The ``# Name = value`` lines of the MemStats trailer."""
    stats = {m.group(1).decode(): int(m.group(2)) for m in _MEMSTAT.finditer(text)}
    if "HeapInuse" not in stats:
        raise InvalidFile("no runtime.MemStats in the heap profile's text form", path=source,
                          hint="point at a Go service's net/http/pprof (/debug/pprof/heap)")
    return stats


def read_memstats(base: str, *, timeout: float = 30.0) -> dict[str, int]:
    """The runtime's heap figures now."""
    url = heap_url(base, debug=True)
    return parse_memstats(fetch(url, timeout=timeout), url)


def read_heap(base: str, *, timeout: float = 30.0) -> Profile:
    """The heap profile now."""
    url = heap_url(base)
    return parse_profile(fetch(url, timeout=timeout), path=url, fmt="pprof")


def _is_runtime(function: str) -> bool:
    return function.startswith(("runtime.", "internal/", "sync.", "reflect."))


def _is_profiler(frames: list[Frame]) -> bool:
    """Memory the profile endpoint itself holds (its gzip writer, its buffers): not the
    service's."""
    return any(f.function.startswith(("runtime/pprof.", "net/http/pprof.")) for f in frames)


def sites(prof: Profile) -> dict[str, SiteSample]:
    """Live bytes and objects by allocation site: the first frame, leaf first, that is not the
    runtime's (a map's growth is charged to the function that assigned into it)."""
    space = prof.sample_index("inuse_space")
    objects = prof.sample_index("inuse_objects")
    out: dict[str, SiteSample] = {}
    biggest: dict[str, int] = {}
    for sample in prof.samples:
        frames = [prof.frames[i] for i in sample.stack]
        if not frames or _is_profiler(frames):
            continue
        site = next((f for f in frames if not _is_runtime(f.function)), frames[0])
        key = site.name
        size, count = sample.values[space], sample.values[objects]
        prev = out.get(key)
        stack = tuple(f.name for f in frames)
        if prev is None or size > biggest[key]:
            biggest[key] = size
        else:
            stack = prev.stack
        out[key] = SiteSample(key, site.file, site.line, (prev.bytes if prev else 0) + size,
                              (prev.objects if prev else 0) + count, stack)
    return out
