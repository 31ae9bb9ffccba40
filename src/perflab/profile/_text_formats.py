"""Text profile formats: folded stacks (Brendan Gregg's, and py-spy's raw output), speedscope
JSON and ``perf script`` output.

Folded stacks are one line per stack, root first, frames separated by ``;``, then a space and
a count. py-spy's ``--format raw`` is the same, with frames written ``func (file:line)``; those
are split back into function, file and line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from perflab.errors import InvalidFile
from perflab.profile._model import Frame, Profile, Sample, SampleType

_PYSPY_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+):(?P<line>\d+)\)$")


def _parse_folded_frame(text: str) -> Frame:
    m = _PYSPY_FRAME.match(text)
    if m:
        return Frame(m["func"], file=m["file"], line=int(m["line"]))
    return Frame(text)


def read_folded(text: str, *, path: str = "<folded>", unit: str = "count") -> Profile:
    prof = Profile(sample_types=[SampleType("samples", unit)])
    cache: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        stack_text, _, count_text = line.rpartition(" ")
        try:
            count = int(count_text)
        except ValueError:
            try:
                count = round(float(count_text))  # "inf" and "nan" are no count either
            except (ValueError, OverflowError):
                raise InvalidFile("expected 'frame;frame;... COUNT'", path=path, line=lineno,
                                  hint="folded stacks end each line with a sample count") from None
        stack = []
        # an empty stack (py-spy writes " 3" for samples taken outside any Python frame)
        # still counts toward the total
        for part in reversed(stack_text.split(";") if stack_text else []):
            idx = cache.get(part)
            if idx is None:
                idx = cache[part] = prof.intern(_parse_folded_frame(part))
            stack.append(idx)

        prof.samples.append(Sample(tuple(stack), [count]))
    return prof


def write_folded(prof: Profile, index: int | None = None) -> str:
    """Folded stacks, merged, sorted; py-spy style names when the frame has a file and line."""
    i = prof.sample_index(None) if index is None else index
    names = [_folded_name(f) for f in prof.frames]
    merged: dict[str, int] = {}
    for s in prof.samples:
        if s.values[i]:
            key = ";".join(names[j] for j in reversed(s.stack))
            merged[key] = merged.get(key, 0) + s.values[i]
    return "".join(f"{k} {v}\n" for k, v in sorted(merged.items()))


def _folded_name(f: Frame) -> str:
    name = f.name.replace(";", ":")
    if f.file and f.line and f.function:
        return f"{name} ({f.file}:{f.line})"
    return name


# -- speedscope (https://www.speedscope.app/file-format-schema.json) ---------------------------

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def is_speedscope(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("$schema") == SPEEDSCOPE_SCHEMA


def read_speedscope(doc: dict[str, Any], *, path: str = "<speedscope>") -> Profile:
    try:
        frames_in = doc["shared"]["frames"]
        profiles = doc["profiles"]
    except (KeyError, TypeError) as exc:
        raise InvalidFile(f"speedscope file without {exc}", path=path) from exc
    # every step below reads values of any JSON type: a wrong one (found by fuzzing: a null
    # profile list, a list as a unit, NaN weights) is a malformed file, never a traceback
    try:
        return _read_speedscope_profiles(frames_in, profiles, path)
    except (KeyError, IndexError, ValueError, TypeError, AttributeError,
            OverflowError) as exc:
        raise InvalidFile(f"malformed speedscope profile ({exc})", path=path) from exc


def _read_speedscope_profiles(frames_in: Any, profiles: Any, path: str) -> Profile:
    unit = "count"
    for p in profiles:
        unit = _speedscope_unit(p.get("unit", "none"))
        break
    prof = Profile(sample_types=[SampleType("samples" if unit == "count" else "time", unit)])
    frame_idx = [prof.intern(Frame(str(f.get("name", "?")), file=str(f.get("file", "") or ""),
                                   line=int(f.get("line", 0) or 0))) for f in frames_in]
    for p in profiles:
        if p.get("type") == "sampled":
            for stack, weight in zip(p["samples"], p["weights"], strict=True):
                prof.samples.append(Sample(tuple(frame_idx[i] for i in reversed(stack)),
                                           [round(weight)]))
        elif p.get("type") == "evented":
            _read_evented(prof, p, frame_idx)
        else:
            raise InvalidFile(f"unknown speedscope profile type {p.get('type')!r}", path=path)
    return prof


def _read_evented(prof: Profile, p: dict[str, Any], frame_idx: list[int]) -> None:

    open_stack: list[int] = []
    last = p.get("startValue", 0)
    merged: dict[tuple[int, ...], float] = {}
    for ev in p["events"]:
        at = ev["at"]
        if open_stack and at > last:
            key = tuple(frame_idx[i] for i in reversed(open_stack))
            merged[key] = merged.get(key, 0) + (at - last)
        last = at
        if ev["type"] == "O":
            open_stack.append(ev["frame"])
        elif ev["type"] == "C":
            open_stack.pop()
    for key, v in merged.items():
        prof.samples.append(Sample(key, [round(v)]))


def _speedscope_unit(u: str) -> str:
    return {"none": "count", "nanoseconds": "nanoseconds", "microseconds": "microseconds",
            "milliseconds": "milliseconds", "seconds": "seconds", "bytes": "bytes"}.get(u, "count")


def write_speedscope(prof: Profile, index: int | None = None, name: str = "perflab") -> str:
    i = prof.sample_index(None) if index is None else index
    unit = prof.sample_types[i].unit
    ss_unit = unit if unit in ("nanoseconds", "microseconds", "milliseconds", "seconds",
                               "bytes") else "none"
    used: dict[int, int] = {}
    frames_out: list[dict[str, Any]] = []
    samples: list[list[int]] = []
    weights: list[int] = []
    for s in prof.samples:
        v = s.values[i]
        if not v:
            continue
        stack = []
        for j in reversed(s.stack):
            k = used.get(j)
            if k is None:
                f = prof.frames[j]
                k = used[j] = len(frames_out)
                entry: dict[str, Any] = {"name": f.name}
                if f.file:
                    entry["file"] = f.file
                if f.line:
                    entry["line"] = f.line
                frames_out.append(entry)
            stack.append(k)
        samples.append(stack)
        weights.append(v)
    doc = {
        "$schema": SPEEDSCOPE_SCHEMA,
        "shared": {"frames": frames_out},
        "profiles": [{"type": "sampled", "name": name, "unit": ss_unit, "startValue": 0,
                      "endValue": sum(weights), "samples": samples, "weights": weights}],
        "name": name, "exporter": "perflab",
    }
    return json.dumps(doc)


# -- perf script -------------------------------------------------------------------------------

# "comm  pid/tid  [cpu]  time:  period  event:" - fields vary with perf's options; we need only
# the comm (which may contain spaces) and the pid, and that a header line is not indented.
_PERF_HEADER = re.compile(r"^(?P<comm>\S.*?)\s+(?P<pid>\d+)(?:/(?P<tid>\d+))?\s")
_PERF_FRAME = re.compile(r"^\s+(?P<addr>[0-9a-f]+)\s+(?P<sym>.*?)\s+\((?P<dso>[^()]*)\)\s*$")
_PERF_PERIOD = re.compile(r"\d+\.\d+:\s+(?P<period>\d+)\s+(?P<event>[\w.-]+)[\w:]*:")


def looks_like_perf_script(text: str) -> bool:
    lines = [ln for ln in text.splitlines()[:40] if ln.strip()]
    return len(lines) >= 2 and any(_PERF_FRAME.match(ln) for ln in lines) and bool(
        _PERF_HEADER.match(lines[0]))


def read_perf_script(text: str, *, path: str = "<perf script>") -> Profile:
    """Parse ``perf script`` output: one header line per sample, then indented frames.

    Each sample counts once (perf's cpu-clock samples are taken at a fixed rate); the first
    sample's period (``-F``'s inverse in ns, when perf prints it) becomes the profile's period.
    Unknown symbols keep their module and address (``libfoo.so+0x1a2b``).
    """
    prof = Profile(sample_types=[SampleType("samples", "count")])

    merged: dict[tuple[tuple[int, ...], str], int] = {}
    stack: list[int] = []
    comm = ""
    header_seen = False
    cache: dict[tuple[str, str, int], int] = {}

    def flush() -> None:
        if header_seen:
            key = (tuple(stack), comm)
            merged[key] = merged.get(key, 0) + 1

    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            continue
        if not line[0].isspace():
            flush()
            m = _PERF_HEADER.match(line)
            if m is None:
                raise InvalidFile("not a perf script sample header", path=path, line=lineno,
                                  hint="produce it with `perf script` (default fields)")
            comm = m["comm"].strip()
            header_seen = True
            stack = []
            if not prof.period:
                pm = _PERF_PERIOD.search(line)
                if pm:
                    prof.period = int(pm["period"])
                    prof.period_type = SampleType(pm["event"].split(":")[0], "count")
            continue
        fm = _PERF_FRAME.match(line)
        if fm is None:
            raise InvalidFile("not a perf script stack frame", path=path, line=lineno,
                              hint="expected '<address> <symbol> (<module>)'")
        addr = int(fm["addr"], 16)
        sym = fm["sym"]
        dso = fm["dso"]
        key3 = (sym, dso, addr if sym == "[unknown]" else 0)
        idx = cache.get(key3)
        if idx is None:
            if sym == "[unknown]":
                frame = Frame("", module="" if dso in ("unknown", "[unknown]") else dso,
                              address=addr)
            else:
                func = re.sub(r"\+0x[0-9a-f]+$", "", sym)
                frame = Frame(func, module=dso)
            idx = cache[key3] = prof.intern(frame)
        stack.append(idx)
    flush()
    for (stk, c), n in merged.items():
        prof.samples.append(Sample(stk, [n], {"comm": c} if c else {}))
    return prof
