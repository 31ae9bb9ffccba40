"""valgrind massif: the heap over time and the peak snapshot's allocation tree, as a profile
(``perflab.profile``'s model) so it renders as a flame graph like any other."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Any

from perflab.debug._memcheck_valgrind import valgrind
from perflab.errors import InvalidFile
from perflab.profile import Frame, Profile, SampleType

# "n2: 1000 0x4005E4: main (prog.c:12)" (indented by depth), or "n0: 500 in 3 places, ..."
_NODE = re.compile(r"^( *)n(\d+): (\d+) (?:0x[0-9A-Fa-f]+: )?(.*)$")
_WHERE = re.compile(r"^(.*?) \((?:in )?([^():]+?)(?::(\d+))?\)$")


def parse_massif(text: str, *, path: str = "<massif.out>") -> dict[str, Any]:
    """Snapshots (time, heap bytes) and the peak snapshot's tree as (stack root first, bytes)."""
    snapshots: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    time_unit = "i"
    tree_lines: dict[int, list[str]] = {}
    peak: int | None = None
    for number, line in enumerate(text.splitlines(), 1):
        try:
            if line.startswith("time_unit:"):
                time_unit = line.split(":", 1)[1].strip()
            elif line.startswith("snapshot="):
                current = {"index": int(line.split("=", 1)[1]), "time": 0, "heap": 0,
                           "extra": 0, "stacks": 0}
                snapshots.append(current)
            elif current is not None and "=" in line and not line.startswith(" "):
                key, _, value = line.partition("=")
                if key == "time":
                    current["time"] = int(value)
                elif key == "mem_heap_B":
                    current["heap"] = int(value)
                elif key == "mem_heap_extra_B":
                    current["extra"] = int(value)
                elif key == "heap_tree" and value == "peak":
                    peak = current["index"]
            elif current is not None and _NODE.match(line):
                tree_lines.setdefault(current["index"], []).append(line)
        except ValueError as exc:
            raise InvalidFile(f"not massif output: {line[:60]!r}", path=path, line=number,
                              hint="a massif.out file as valgrind --tool=massif writes it"
                              ) from exc
    if not snapshots:
        raise InvalidFile("no massif snapshots", path=path,
                          hint="a massif.out file as valgrind --tool=massif writes it")
    if peak is None:  # a run cut short has no peak marker: the largest detailed snapshot
        detailed = [s for s in snapshots if s["index"] in tree_lines]
        pool = detailed or snapshots
        peak = max(pool, key=lambda s: s["heap"])["index"]
    peak_snap = next(s for s in snapshots if s["index"] == peak)
    return {"time_unit": time_unit, "snapshots": snapshots, "peak": peak_snap,
            "stacks": _tree_stacks(tree_lines.get(peak, []))}


def _tree_stacks(lines: list[str]) -> list[tuple[list[Frame], int]]:
    """Each node's own bytes (its total less its children's) with its stack, leaf first."""
    out: list[tuple[list[Frame], int]] = []
    path: list[tuple[Frame, int, int]] = []  # (frame, total, children's sum so far)
    own: list[tuple[list[Frame], int, int]] = []  # (stack leaf first, total, depth)
    for line in lines:
        m = _NODE.match(line)
        if m is None:
            continue
        depth, total, label = len(m.group(1)), int(m.group(3)), m.group(4)
        if depth == 0:
            continue  # the root: "(heap allocation functions) malloc/new/new[] ..."
        del path[depth - 1:]
        frame = _frame(label)
        path.append((frame, total, 0))
        # massif's tree is inverted: depth 1 is the allocating call, deeper nodes its callers,
        # so the path from the top is already the stack leaf first
        own.append(([p[0] for p in path], total, depth))
    # a node's own bytes: its total minus the totals of its direct children
    for i, (stack, total, depth) in enumerate(own):
        children = 0
        for _, later_total, later_depth in own[i + 1:]:
            if later_depth <= depth:
                break
            if later_depth == depth + 1:
                children += later_total
        if total - children > 0:
            out.append((stack, total - children))
    return out


def _frame(label: str) -> Frame:
    if label.startswith("in ") and "place" in label:
        return Frame(function="(below threshold)")
    m = _WHERE.match(label)
    if m:
        line = m.group(3)
        return Frame(function=m.group(1), file=m.group(2), line=int(line) if line else 0)
    return Frame(function=label)


def peak_profile(parsed: dict[str, Any]) -> Profile:
    """The peak snapshot's tree as a profile with one sample type, ``heap/bytes``."""
    prof = Profile(sample_types=[SampleType("heap", "bytes")])
    for stack, size in parsed["stacks"]:
        prof.add(stack, [size])
    return prof


def run_massif(command: list[str], *, timeout: float | None = None,
               stdout: IO[Any] | None = None) -> tuple[dict[str, Any],
                                                                           int, list[str]]:
    """Run ``command`` under massif (time in ms). Returns (parsed output, exit code, notes)."""
    tool = valgrind()
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="perflab-massif-") as tmp:
        out = Path(tmp) / "massif.out"
        # every snapshot detailed: a program that never frees has no peak snapshot of its own
        proc = subprocess.run([tool, "--tool=massif", "--time-unit=ms", "--detailed-freq=1",  # noqa: S603
                               f"--massif-out-file={out}", *command], check=False,
                              timeout=timeout, stdout=stdout)
        if not out.exists():
            raise InvalidFile("massif wrote no output", path=str(out),
                              hint="did the program start under valgrind? run it by hand")
        parsed = parse_massif(out.read_text(errors="replace"), path=str(out))
    if proc.returncode < 0 or proc.returncode > 128:
        notes.append("the program died under valgrind: massif's snapshots up to then are shown")
    return parsed, proc.returncode, notes
