"""Fuzzing the benchmark inputs (untrusted: CI logs, files from other tools). Whatever the
bytes, `load` returns results or raises perflab's documented InvalidFile / NotFound (exit 2):
never another exception. Seeds are the real fixtures, mutated."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._fuzz import json_values, mutated_json

from perflab.bench import ResultSet, load
from perflab.bench._gofmt import read_go
from perflab.bench._jsonfmt import read_json
from perflab.errors import InvalidFile, NotFound

FIXTURES = Path(__file__).parents[2] / "fixtures" / "bench"
DOCUMENTED = (InvalidFile, NotFound)
GO_SEED = (FIXTURES / "benchstat" / "old.txt").read_text()
JSON_SEEDS = [json.loads((FIXTURES / n).read_text())
              for n in ("pyperf.json", "pytest-benchmark.json", "hyperfine.json",
                        "perflab.json")]
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

go_lines = st.lists(st.one_of(
    st.sampled_from(GO_SEED.splitlines()),
    st.from_regex(r"Benchmark[\w/=-]{0,12}[ \t]+[-+0-9a-z.]{0,8}([ \t]+[-+0-9eE.a-z]{0,8}"
                  r"[ \t]+[\w/]{0,6}){0,3}", fullmatch=True),
    st.from_regex(r"(Unit|[a-z]{1,5}:)[ \t]?[\w=/ ]{0,20}", fullmatch=True),
    st.text(max_size=40)), max_size=30)


@FUZZ
@given(go_lines)
def test_go_benchmark_text_never_raises_an_undocumented_error(lines):
    rs = ResultSet()
    read_go("\n".join(lines), "fuzz.txt", "fuzz.txt", rs)  # problems are data, never raised
    for r in rs.results:
        assert r.values


@FUZZ
@given(st.one_of(mutated_json(st.sampled_from(JSON_SEEDS)), json_values))
def test_benchmark_json_never_raises_an_undocumented_error(doc):
    with contextlib.suppress(*DOCUMENTED):  # anything else fails the test
        read_json(doc, "fuzz.json", "fuzz.json", ResultSet())


@FUZZ
@given(st.binary(max_size=300) | st.sampled_from([b"{", b"[1,", b"\xff\xfe", b"{}"]))
def test_any_file_bytes_load_or_raise_invalid_file(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "in.txt"
    path.write_bytes(data)
    with contextlib.suppress(*DOCUMENTED):
        load([str(path)])
