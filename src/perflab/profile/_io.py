"""Reading any supported profile file (format sniffed from its content) and writing one."""

from __future__ import annotations

import json
from pathlib import Path

from perflab.errors import InvalidFile, InvalidValue, NotFound
from perflab.profile import _pprof, _text_formats
from perflab.profile._model import Profile

FORMATS = ("pprof", "folded", "speedscope", "perf-script", "pyspy-raw")


def parse_profile(data: bytes, *, path: str = "<input>", fmt: str | None = None) -> Profile:
    """Decode profile bytes; ``fmt`` forces a format, else it is sniffed from the content."""
    if fmt is None:
        fmt = sniff_format(data)
    if fmt == "pprof":
        return _pprof.decode(data, path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidFile("not a profile: binary data that is not pprof", path=path,
                          hint=f"supported formats: {', '.join(FORMATS)}") from exc
    if fmt == "speedscope":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidFile(f"invalid JSON ({exc.msg})", path=path, line=exc.lineno) from exc
        if not _text_formats.is_speedscope(doc):
            raise InvalidFile("JSON that is not a speedscope profile (no speedscope $schema)",
                              path=path, hint=f"supported formats: {', '.join(FORMATS)}")
        return _text_formats.read_speedscope(doc, path=path)
    if fmt == "perf-script":
        return _text_formats.read_perf_script(text, path=path)
    if fmt in ("folded", "pyspy-raw"):
        return _text_formats.read_folded(text, path=path)
    raise InvalidValue(f"unknown profile format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")


def sniff_format(data: bytes) -> str:
    head = data[:4096].lstrip()
    if data[:2] == b"\x1f\x8b":
        return "pprof"
    if head.startswith(b"{"):
        return "speedscope"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "pprof" if _pprof.is_pprof(data) else "folded"
    if _text_formats.looks_like_perf_script(text):
        return "perf-script"
    if _pprof.is_pprof(data) and "\x00" in text:
        return "pprof"
    return "folded"


def read_profile(path: str | Path, *, fmt: str | None = None) -> Profile:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"no such file: {p}", hint="check the path") from exc
    except IsADirectoryError as exc:
        raise InvalidFile("is a directory, not a profile", path=str(p)) from exc
    except PermissionError as exc:
        raise InvalidFile("permission denied", path=str(p),
                          hint="run as a user who can read it") from exc
    if not data.strip():
        raise InvalidFile("empty file", path=str(p), hint="the profile has no content")
    prof = parse_profile(data, path=str(p), fmt=fmt)
    if not prof.sample_types:
        raise InvalidFile("profile without sample types", path=str(p))
    return prof


def format_for_path(path: str | Path) -> str:
    name = str(path).lower()
    if name.endswith((".pb.gz", ".pprof", ".pb", ".prof")):
        return "pprof"
    if name.endswith((".speedscope.json", ".json")):
        return "speedscope"
    if name.endswith((".folded", ".txt", ".collapsed")):
        return "folded"
    return "pprof"


def write_profile(prof: Profile, path: str | Path, *, fmt: str | None = None) -> str:
    """Write ``prof`` to ``path``; the format follows the extension unless given. Returns it."""
    fmt = fmt or format_for_path(path)
    if fmt == "pprof":
        data = _pprof.encode(prof)
    elif fmt == "speedscope":
        data = _text_formats.write_speedscope(prof).encode()
    elif fmt == "folded":
        data = _text_formats.write_folded(prof).encode()
    else:
        raise InvalidValue(f"cannot write format {fmt!r}", hint="pprof, speedscope or folded")
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise InvalidFile(f"cannot write: {exc.strerror}", path=str(path)) from exc
    return fmt
