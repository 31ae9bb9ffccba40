"""Fetching profiles from Go's net/http/pprof endpoints (``/debug/pprof/...``)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from perflab.errors import InvalidFile, InvalidValue, Unreachable

# endpoint -> does it take ?seconds= (a profile measured over time rather than a snapshot)
GO_PROFILES = {"profile": True, "heap": False, "allocs": False, "goroutine": False,
               "mutex": False, "block": False, "threadcreate": False}


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def profile_url(base: str, kind: str, seconds: float | None = None) -> str:
    """The URL of one Go profile below ``base`` (a server root or any /debug/pprof/ URL)."""
    if kind not in GO_PROFILES:
        raise InvalidValue(f"unknown Go profile {kind!r}", hint="one of: " + ", ".join(GO_PROFILES))
    parts = urllib.parse.urlsplit(base)
    path = parts.path
    if "/debug/pprof" in path:
        path = path[: path.index("/debug/pprof")]
    path = path.rstrip("/") + "/debug/pprof/" + kind
    query = f"seconds={max(1, round(seconds))}" if seconds and GO_PROFILES[kind] else ""
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def fetch(url: str, *, timeout: float = 60.0) -> bytes:
    """GET ``url``; unreachable hosts and HTTP errors become ``Unreachable`` (exit 3)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310  # http(s) only
            data: bytes = resp.read()
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode("utf-8", "replace").strip()
        raise Unreachable(f"{url}: HTTP {exc.code} {exc.reason}" + (f": {body}" if body else ""),
                          hint="is net/http/pprof imported and this profile enabled "
                               "(mutex/block need runtime.SetMutexProfileFraction/"
                               "SetBlockProfileRate)?") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unreachable(f"cannot fetch {url}: {reason}",
                          hint="check the address and that the service is running") from exc
    if data.lstrip()[:1] == b"<":
        raise InvalidFile("the server answered with HTML, not a pprof profile", path=url,
                          hint="point at /debug/pprof/<profile>, e.g. /debug/pprof/heap")
    return data
