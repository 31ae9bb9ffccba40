"""Go backend: a service's net/http/pprof endpoints, CPU over the duration plus snapshots."""

from __future__ import annotations

import time

from perflab.errors import PerflabError
from perflab.profile._capture import CaptureRequest, CaptureResult
from perflab.profile._fetch import fetch, profile_url
from perflab.profile._io import parse_profile

SNAPSHOTS = ("heap", "allocs", "goroutine", "mutex", "block")


def capture_pprof(req: CaptureRequest) -> CaptureResult:
    assert req.pprof_url
    seconds = req.duration_s if req.duration_s is not None else 30.0
    notes: list[str] = []
    extra = {}
    # the snapshots first (instant), then the CPU profile, which blocks for its duration
    for kind in SNAPSHOTS:
        url = profile_url(req.pprof_url, kind)
        try:
            extra[kind] = parse_profile(fetch(url, timeout=30), path=url)
        except PerflabError as err:
            if kind == "heap":
                raise
            notes.append(f"{kind}: {err.message}")
    url = profile_url(req.pprof_url, "profile", seconds)
    start_ns = time.time_ns()
    prof = parse_profile(fetch(url, timeout=seconds + 30), path=url)
    if not prof.time_ns:
        prof.time_ns = start_ns
    return CaptureResult(prof, "pprof", "", notes, extra_profiles=extra)
