"""Load result files of any supported format; ``label=path`` names a file's column."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from perflab.bench._gofmt import read_go
from perflab.bench._jsonfmt import read_json
from perflab.bench._model import ResultSet
from perflab.errors import InvalidFile, NotFound


def split_label(arg: str) -> tuple[str, str]:
    """``O=old.txt`` -> ("O", "old.txt"); a path that exists as written is never split."""
    if "=" in arg and not Path(arg).exists():
        label, _, path = arg.partition("=")
        if label and path:
            return label, path
    return arg, arg


def load(args: list[str] | tuple[str, ...], into: ResultSet | None = None) -> ResultSet:
    """Read every input; malformed lines become ``problems``; a file with nothing is an error."""
    rs = into if into is not None else ResultSet()
    for arg in args:
        label, path = split_label(arg)
        text = _read_text(path)
        rs.files.append(label)
        stripped = text.lstrip()
        if stripped.startswith(("{", "[")):
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidFile(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno,
                                  hint="pass pyperf, pytest-benchmark, hyperfine or perflab "
                                       "JSON, or Go benchmark text") from exc
            count = read_json(doc, path, label, rs)
        else:
            count = read_go(text, path, label, rs)
        if count == 0:
            details = "; ".join(str(p) for p in rs.problems if p.path == path)[:300]
            raise InvalidFile(
                "no benchmark results found" + (f" ({details})" if details else ""),
                path=path,
                hint="expected `go test -bench` output (lines starting with 'Benchmark'), or "
                     "JSON from pyperf, pytest-benchmark, hyperfine or perflab",
            )
    return rs


def _read_text(path: str) -> str:
    p = Path(path)
    try:
        data = p.read_bytes() if path != "-" else sys.stdin.buffer.read()
    except FileNotFoundError as exc:
        raise NotFound(f"no such file: {path}", hint="check the path") from exc
    except IsADirectoryError as exc:
        raise InvalidFile("is a directory, not a results file", path=path) from exc
    except PermissionError as exc:
        raise InvalidFile("permission denied", path=path,
                          hint="check the file's permissions") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidFile("not UTF-8 text", path=path,
                          hint="benchmark files must be UTF-8 encoded") from exc
