"""HAR files (HTTP Archive 1.2, http://www.softwareishard.com/blog/har-12-spec/), as browsers'
developer tools and proxies save them.

Read: ``log.entries[]``, each with ``startedDateTime`` (ISO 8601) and ``request`` (``method``,
``url``, ``headers[]``, ``postData.text`` or ``postData.params[]``, ``bodySize``), and of the
response ``status`` and ``content.size``. The scenario's ``base_url`` is the origin most
entries went to; entries to other origins (CDNs, analytics) are listed, not imported. Entries
the browser answered from its cache or never sent (``status`` 0) are listed too.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from perflab.errors import InvalidFile
from perflab.load._import_model import Observed, Traffic, Unmapped

if TYPE_CHECKING:
    from pathlib import Path

MAX_HAR = 512 * 1024 * 1024  # bytes of a HAR read


def read_har(path: Path) -> Traffic:
    """The requests of a HAR file to its main origin, in the order they started."""
    try:
        size = path.stat().st_size
        if size > MAX_HAR:
            raise InvalidFile(f"larger than {MAX_HAR // 2**20} MiB", path=str(path))
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise InvalidFile(f"cannot read: {exc.strerror}", path=str(path)) from None
    except (ValueError, RecursionError) as exc:
        raise InvalidFile(f"not JSON: {str(exc)[:200]}", path=str(path),
                          hint="give a HAR file (HTTP Archive 1.2) as browsers save it") from None
    log = doc.get("log") if isinstance(doc, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise InvalidFile("no log.entries: not a HAR file", path=str(path),
                          hint="give a HAR file (HTTP Archive 1.2) as browsers save it")
    version = log.get("version") if isinstance(log, dict) else None
    traffic = Traffic("har", str(path), f"HAR {version}" if isinstance(version, str) else "HAR")
    parsed: list[tuple[str, Observed]] = []
    for i, entry in enumerate(entries):
        got = _entry(entry, f"log.entries[{i}]")
        if isinstance(got, Unmapped):
            traffic.unmapped.append(got)
        else:
            parsed.append(got)
    origins = Counter(origin for origin, _ in parsed)
    if not origins:
        raise InvalidFile("no HTTP request in log.entries", path=str(path),
                          hint="record the traffic again with the page's requests in it")
    main = max(origins.items(), key=lambda kv: (kv[1], kv[0]))[0]
    traffic.base_url = main
    for origin, count in sorted(origins.items()):
        if origin != main:
            traffic.unmapped.append(Unmapped(origin, "origin", f"{count} requests to another "
                                             f"origin than {main}: not imported"))
    traffic.requests = sorted((o for origin, o in parsed if origin == main),
                              key=lambda o: o.at_s or 0.0)
    return traffic


def _entry(entry: Any, where: str) -> tuple[str, Observed] | Unmapped:  # JSON
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(request, dict):
        return Unmapped(where, "entry", "no request object")
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not isinstance(url, str):
        return Unmapped(where, "request", "no method or url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return Unmapped(where, "request", f"not an http(s) URL: {url[:80]!r}")
    response = entry.get("response")
    response = response if isinstance(response, dict) else {}
    status = response.get("status")
    if status == 0:
        return Unmapped(where, url[:120], "never answered on the network (status 0: blocked, "
                                          "cancelled or served by the browser)")
    content = response.get("content")
    content = content if isinstance(content, dict) else {}
    body = _body(request.get("postData"))
    size = request.get("bodySize")
    headers = tuple((str(h.get("name", "")), str(h.get("value", "")))
                    for h in request.get("headers") or () if isinstance(h, dict))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    answer = content.get("size")
    return f"{parts.scheme}://{parts.netloc}", Observed(
        method=method.upper(), path=path, at_s=_time(entry.get("startedDateTime")),
        body=body, body_bytes=size if isinstance(size, int) and size > 0 else 0,
        response_bytes=answer if isinstance(answer, int) and answer >= 0 else None,
        status=status if isinstance(status, int) else None, headers=headers)


def _body(post: Any) -> bytes | None:  # JSON
    if not isinstance(post, dict):
        return None
    text = post.get("text")
    if isinstance(text, str):
        return text.encode()
    params = post.get("params")
    if isinstance(params, list):  # a form the browser encoded: the spec gives its fields
        return urlencode([(str(p.get("name", "")), str(p.get("value", "")))
                          for p in params if isinstance(p, dict)]).encode()
    return None


def _time(value: Any) -> float | None:  # JSON
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None
