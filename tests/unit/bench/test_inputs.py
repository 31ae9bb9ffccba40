"""Input formats: Go benchmark text, pyperf, pytest-benchmark, hyperfine and perflab JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from perflab.bench import ResultSet, load
from perflab.bench._gofmt import read_go
from perflab.errors import InvalidFile, NotFound

FIXTURES = Path(__file__).parents[2] / "fixtures" / "bench"

GO_TEXT = """\
goos: linux
goarch: amd64
pkg: example.com/enc
cpu: Intel(R) Xeon(R) CPU @ 2.20GHz
Unit ns/op better=lower
BenchmarkEncode/format=json-8   	 690848	      1726 ns/op	     512 B/op	       3 allocs/op
BenchmarkEncode/format=gob-8    	 372699	      3069 ns/op	    1024 B/op	       7 allocs/op
PASS
ok  	example.com/enc	2.1s
pkg:
BenchmarkLoose 10 5.5 MB/s
"""


def read(text: str, path: str = "x.txt") -> ResultSet:
    rs = ResultSet()
    read_go(text, path, path, rs)
    return rs


def test_go_results_with_config_benchmem_and_tidied_units():
    rs = read(GO_TEXT)
    first = rs.results[0]
    assert first.name == "Encode/format=json-8"
    assert first.iters == 690848
    assert dict(first.config) == {"goos": "linux", "goarch": "amd64", "pkg": "example.com/enc",
                                  "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz"}
    assert [(v.value, v.unit) for v in first.values] == [
        (pytest.approx(1726e-9), "sec/op"), (512.0, "B/op"), (3.0, "allocs/op")]
    assert first.values[0].orig_unit == "ns/op"
    # "pkg:" with no value deletes the key for the lines after it
    loose = rs.results[2]
    assert dict(loose.config) == {"goos": "linux", "goarch": "amd64",
                                  "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz"}
    assert (loose.values[0].value, loose.values[0].unit) == (5.5e6, "B/s")
    assert rs.unit_meta == {("sec/op", "better"): "lower"}
    assert rs.problems == []


def test_unit_metadata_assume_exact_and_conflicts_are_reported():
    rs = read("Unit text-bytes assume=exact\nUnit text-bytes assume=nothing\nUnit x foo\n"
              "BenchmarkA 1 5 text-bytes\n")
    assert rs.assumption("text-bytes") == "exact"
    assert [str(p) for p in rs.problems] == [
        "x.txt:2: metadata assume of unit text-bytes already set to exact",
        "x.txt:3: expected key=value",
    ]


@pytest.mark.parametrize(("line", "message"), [
    ("BenchmarkX ", "missing iteration count"),  # bare "BenchmarkX" is go test -v
    ("BenchmarkX abc 5 ns/op", "parsing iteration count: invalid syntax 'abc'"),
    ("BenchmarkX 10", "missing measurements"),
    ("BenchmarkX 10 5", "missing units"),
    ("BenchmarkX 10 five ns/op", "parsing measurement: invalid syntax 'five'"),
])
def test_malformed_benchmark_lines_are_reported_with_file_and_line_and_skipped(line, message):
    rs = read(f"BenchmarkOK 1 1 ns/op\n{line}\nBenchmarkOK 1 2 ns/op\n", "bad.txt")
    assert [str(p) for p in rs.problems] == [f"bad.txt:2: {message}"]
    assert [r.values[0].value for r in rs.results] == [pytest.approx(1e-9), pytest.approx(2e-9)]


def test_lines_that_are_neither_results_nor_config_are_ignored():
    rs = read("=== RUN TestX\nKey: Value\nkey:nospace\nBenchmarkA 1 1 ns/op\n")
    assert rs.problems == []
    assert rs.results[0].config == ()


def test_pyperf_json_values_exclude_warmups():
    rs = load([str(FIXTURES / "pyperf.json")])
    names = {r.name for r in rs.results}
    assert names == {"timeit"}
    values = [r.values[0].value for r in rs.results]
    assert len(values) == 20  # pyperf --fast: 10 worker runs x 2 values, warmups dropped
    assert all(v < 1e-5 for v in values)
    assert {r.values[0].unit for r in rs.results} == {"sec/op"}


def test_pytest_benchmark_json_uses_each_rounds_raw_time():
    rs = load([str(FIXTURES / "pytest-benchmark.json")])
    small = [r.values[0].value for r in rs.results if r.name == "test_parse[small]"]
    assert small == [1.21e-05, 1.25e-05, 1.26e-05, 1.23e-05, 1.39e-05, 1.24e-05]


def test_pytest_benchmark_without_raw_data_explains_how_to_get_it(tmp_path):
    f = tmp_path / "nodata.json"
    f.write_text('{"machine_info": {}, "commit_info": {}, "benchmarks": [{"name": "t", '
                 '"stats": {"median": 1.0}}]}')
    with pytest.raises(InvalidFile, match="--benchmark-save-data"):
        load([str(f)])


def test_hyperfine_json_one_benchmark_per_command():
    rs = load([str(FIXTURES / "hyperfine.json")])
    by_name: dict[str, int] = {}
    for r in rs.results:
        by_name[r.name] = by_name.get(r.name, 0) + 1
    assert by_name == {"true": 5, "sleep_0.001": 5}


def test_perflab_json():
    rs = load([str(FIXTURES / "perflab.json")])
    assert [r.values[0].value for r in rs.results if r.name == "bench_sort"][:2] == [0.101, 0.103]


def test_label_names_a_column(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("BenchmarkA 1 1 ns/op\n")
    rs = load([f"before={f}"])
    assert rs.files == ["before"]
    assert rs.results[0].file == "before"


@pytest.mark.parametrize(("content", "message"), [
    ("no benchmarks here\n", "no benchmark results found"),
    ("", "no benchmark results found"),
    ("{not json", "not valid JSON"),
    ('{"something": 1}', "unknown kind"),
])
def test_files_without_results_are_refused_with_the_file_named(tmp_path, content, message):
    f = tmp_path / "in.txt"
    f.write_text(content)
    with pytest.raises(InvalidFile, match=message) as info:
        load([str(f)])
    assert str(f) in str(info.value)
    assert info.value.exit_code == 2


def test_missing_file_and_binary_file(tmp_path):
    with pytest.raises(NotFound):
        load([str(tmp_path / "nope.txt")])
    f = tmp_path / "bin"
    f.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidFile, match="UTF-8"):
        load([str(f)])


def test_go_test_v_bare_name_line_is_skipped_like_benchstat():
    """`go test -v` prints `BenchmarkOne` alone when it starts; benchfmt ignores it (a44b9fb)."""
    rs = read("BenchmarkOne\nBenchmarkOne 100 1 ns/op\nBenchmark\nBenchmarkTwo \n")
    assert [r.name for r in rs.results] == ["One"]
    # a trailing space makes it a benchmark line again, and then it lacks its iteration count
    assert [str(p) for p in rs.problems] == ["x.txt:4: missing iteration count"]
