"""What every input format is read into: results (one benchmark run, several measurements),
unit metadata, and the problems met on the way (kept, reported, never fatal on their own)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from perflab.bench._contracts import Assumption

# "-8" at the end of a Go benchmark name is GOMAXPROCS
_PROCS = re.compile(r"-(\d+)$")


@dataclass(frozen=True)
class Value:
    value: float
    unit: str  # tidied: sec/op rather than ns/op, B/s rather than MB/s
    orig_unit: str = ""  # as written in the input, when tidying changed it


@dataclass(frozen=True)
class Result:
    """One line of results: a benchmark, its file-level configuration, its measurements."""

    name: str  # full name without the "Benchmark" prefix: "Encode/format=json-48"
    values: tuple[Value, ...]
    file: str  # the .file label (file name, or the label given as label=path)
    config: tuple[tuple[str, str], ...] = ()  # file-level key: value lines in effect
    iters: int = 1
    line: int = 0


@dataclass(frozen=True)
class NamePart:
    key: str  # "/format" for "/format=json", "/gomaxprocs" for "-48", "" for "/100"
    value: str
    text: str  # how the part reads inside the full name: "/format=json", "-48", "/100"


def name_parts(full: str) -> tuple[str, tuple[NamePart, ...]]:
    """Split ``Encode/format=json-48`` into the base name and its sub-name parts."""
    procs = _PROCS.search(full)
    tail: NamePart | None = None
    if procs:
        tail = NamePart("/gomaxprocs", procs.group(1), procs.group(0))
        full = full[: procs.start()]
    pieces = full.split("/")
    base = pieces[0]
    parts: list[NamePart] = []
    for piece in pieces[1:]:
        key, eq, value = piece.partition("=")
        if eq:
            parts.append(NamePart("/" + key, value, "/" + piece))
        else:
            parts.append(NamePart("", piece, "/" + piece))
    if tail is not None:
        parts.append(tail)
    return base, tuple(parts)


@dataclass(frozen=True)
class Problem:
    """A line or entry that could not be used: reported as ``file:line: message``."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else (
            f"{self.path}: {self.message}")


@dataclass
class ResultSet:
    """Everything read from the inputs of one command."""

    results: list[Result] = field(default_factory=list)
    # (tidied unit, key) -> value, from "Unit ns/op assume=exact better=lower" lines
    unit_meta: dict[tuple[str, str], str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def assumption(self, unit: str) -> Assumption:
        """How the unit's values vary (``assume=`` in Go's unit metadata): ``exact``,
        ``normal``, else ``nothing`` (what an unknown word is treated as, and said to be)."""
        declared = self.unit_meta.get((unit, "assume"))
        if declared == "exact":
            return "exact"
        if declared == "normal":
            return "normal"
        return "nothing"

    def better(self, unit: str) -> Literal["lower", "higher"]:
        """``lower`` or ``higher``: which direction of change is an improvement."""
        declared = self.unit_meta.get((unit, "better"))
        if declared == "higher":
            return "higher"
        if declared == "lower":
            return "lower"
        # throughput-like units (B/s, ops/s) improve upwards; times, sizes, counts downwards
        if unit.endswith(("/s", "/sec")) or unit in ("ops", "rps"):
            return "higher"
        return "lower"
