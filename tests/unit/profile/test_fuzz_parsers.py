"""Fuzzing every profile parser of untrusted input: pprof (gzip + protobuf), folded stacks,
speedscope JSON and perf script text. Whatever the bytes, `parse_profile` returns a profile or
raises perflab's documented InvalidFile (a UsageError, exit 2): never another exception.
Seeds are real files, mutated (bytes flipped, cut, lines shuffled), plus arbitrary input."""

from __future__ import annotations

import contextlib
import gzip
import json
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests._fuzz import mutated_json

from perflab.errors import InvalidFile
from perflab.profile._io import parse_profile
from perflab.profile._model import Frame, Profile, Sample, SampleType
from perflab.profile._pprof import encode

FIXTURES = Path(__file__).parents[2] / "fixtures" / "profile"
PPROF = (FIXTURES / "go_perf_vs_pprof" / "cpu.pb.gz").read_bytes()
PERF_LINES = (FIXTURES / "perf_script.txt").read_text().splitlines()
FUZZ = settings(max_examples=300, deadline=None)


def _small_profile() -> Profile:
    prof = Profile(sample_types=[SampleType("samples", "count")])
    a, b = prof.intern(Frame("main.a", "a.go", 3)), prof.intern(Frame("main.b"))
    prof.samples = [Sample((a, b), [3]), Sample((b,), [1])]
    return prof


SPEEDSCOPE = json.loads(json.dumps({
    "$schema": "https://www.speedscope.app/file-format-schema.json",
    "shared": {"frames": [{"name": "a"}, {"name": "b", "file": "x.py", "line": 3}]},
    "profiles": [{"type": "sampled", "name": "p", "unit": "none", "startValue": 0,
                  "endValue": 4, "samples": [[0, 1], [1]], "weights": [3, 1]},
                 {"type": "evented", "name": "e", "unit": "milliseconds", "startValue": 0,
                  "endValue": 5, "events": [{"type": "O", "frame": 0, "at": 0},
                                            {"type": "C", "frame": 0, "at": 5}]}]}))


def _parse(data: bytes, fmt: str | None) -> None:
    with contextlib.suppress(InvalidFile):  # the documented error; anything else fails
        parse_profile(data, path="fuzz", fmt=fmt)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:i + draw(st.integers(1, 64))]
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@FUZZ
@given(st.one_of(mutated(PPROF), mutated(gzip.decompress(PPROF)),
                 mutated(gzip.compress(encode(_small_profile()))),
                 st.binary(max_size=200).map(lambda b: b"\x1f\x8b" + b)))
def test_pprof_bytes_parse_or_raise_invalid_file(data):
    _parse(data, "pprof")
    _parse(data, None)


folded_lines = st.lists(st.one_of(
    st.from_regex(r"[\w.;:/ ()\[\]-]{0,30} -?[0-9]{0,6}(\.[0-9]{0,3})?", fullmatch=True),
    st.text(max_size=30)), max_size=20)


@FUZZ
@given(folded_lines)
@example(["INF"])  # float("INF") parses, and rounding infinity overflowed (found by this test)
@example(["main;f nan"])
def test_folded_text_parses_or_raises_invalid_file(lines):
    _parse("\n".join(lines).encode("utf-8", "surrogatepass"), "folded")


@FUZZ
@given(mutated_json(st.just(SPEEDSCOPE), keep={"$schema"}).map(
    lambda doc: json.dumps(doc).encode()))
def test_speedscope_json_parses_or_raises_invalid_file(data):
    _parse(data, "speedscope")


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(PERF_LINES), st.text(max_size=40)), max_size=30))
def test_perf_script_text_parses_or_raises_invalid_file(lines):
    _parse("\n".join(lines).encode("utf-8", "surrogatepass"), "perf-script")
