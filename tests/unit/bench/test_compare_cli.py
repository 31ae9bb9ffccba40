"""`perflab bench compare`: formats, the CI gate, exit codes, bad input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from tests._schemas import validate

from perflab.cli import main

DATA = Path(__file__).parents[2] / "fixtures" / "bench" / "benchstat"
OLD, NEW = str(DATA / "old.txt"), str(DATA / "new.txt")


def lines(path: Path, name: str, values: list[float], unit: str = "ns/op") -> Path:
    path.write_text("".join(f"Benchmark{name} 1 {v} {unit}\n" for v in values))
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["bench", "compare", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_validates_and_carries_the_numbers(capsys):
    code, out, _ = run(capsys, OLD, NEW, "--json")
    assert code == 0
    doc = validate(out, "bench-compare")
    table = doc["tables"][0]
    assert table["unit"] == "sec/op"
    json_row = table["rows"][0]
    assert json_row["name"] == "Encode/format=json-48"
    new_cell = json_row["cells"][1]
    assert new_cell["center"] == pytest.approx(1.4225e-06)
    assert new_cell["comparison"]["delta"] == "-17.20%"
    assert new_cell["comparison"]["significant"] is True
    assert new_cell["comparison"]["verdict"] == "improvement"
    gob = table["rows"][1]["cells"][1]["comparison"]
    assert gob["delta"] == "~"
    assert gob["p"] == pytest.approx(0.446, abs=5e-4)


def test_an_unknown_assume_word_is_said_to_be_nothing(tmp_path, capsys):
    """`assume=` names how values vary; a word perflab does not know is treated as `nothing`,
    and the JSON says so rather than repeating the word its schema does not allow."""
    for side, values in (("a", [10, 11, 12, 10, 11]), ("b", [20, 21, 22, 20, 21])):
        (tmp_path / f"{side}.txt").write_text(
            "Unit ns/op assume=sometimes\n"
            + "".join(f"BenchmarkX 1 {v} ns/op\n" for v in values))
    code, out, _ = run(capsys, str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--json")
    assert code == 0
    doc = validate(out, "bench-compare")
    assert doc["tables"][0]["assume"] == "nothing"


def test_gate_trips_on_a_significant_large_regression(capsys):
    code, out, err = run(capsys, NEW, OLD, "--fail-on", "regression>5%", "--json")
    assert code == 1
    doc = validate(out, "bench-compare")
    assert doc["gate"]["tripped"] == ["Encode/format=json-48"]
    assert "tripped regression>5%" in err


def test_gate_ignores_improvements_and_small_changes(capsys):
    assert run(capsys, OLD, NEW, "--fail-on", "regression>5%")[0] == 0
    # json got 20.8 % slower from NEW to OLD: a 25 % threshold lets it pass
    assert run(capsys, NEW, OLD, "--fail-on", "regression>25%")[0] == 0
    # "change" trips in either direction
    assert run(capsys, OLD, NEW, "--fail-on", "change>5%")[0] == 1


def test_gate_needs_significance_not_just_size(tmp_path, capsys):
    """A 50 % jump with 3 samples each is not significant: no wrong alarm."""
    a = lines(tmp_path / "a.txt", "X", [100, 101, 99])
    b = lines(tmp_path / "b.txt", "X", [150, 151, 149])
    code, out, _ = run(capsys, str(a), str(b), "--fail-on", "regression>5%")
    assert code == 0
    assert "~ (p=0.100 n=3)" in out


def test_holm_correction_can_clear_a_marginal_result(tmp_path, capsys):
    """Many benchmarks: the one with p just under 0.05 stops counting after Holm."""
    old = "".join(f"BenchmarkB{i} 1 {100 + j} ns/op\n" for i in range(10) for j in range(6))
    new = "".join(f"BenchmarkB{i} 1 {100 + j + (10 if i == 0 else 0)} ns/op\n"
                  for i in range(10) for j in range(6))
    (tmp_path / "old.txt").write_text(old)
    (tmp_path / "new.txt").write_text(new)
    args = (str(tmp_path / "old.txt"), str(tmp_path / "new.txt"), "--fail-on", "regression>1%")
    assert run(capsys, *args)[0] == 1
    assert run(capsys, *args, "--correction", "holm")[0] == 1  # p=0.002 survives x10
    # make it marginal: overlap leaves p ~ 0.03, which Holm over 10 comparisons rejects
    new2 = "".join(f"BenchmarkB{i} 1 {100 + j + (4 if i == 0 else 0)} ns/op\n"
                   for i in range(10) for j in range(6))
    (tmp_path / "new.txt").write_text(new2)
    code_plain = run(capsys, *args)[0]
    code_holm = run(capsys, *args, "--correction", "holm")[0]
    assert (code_plain, code_holm) == (1, 0)


def test_throughput_units_regress_downwards(tmp_path, capsys):
    a = lines(tmp_path / "a.txt", "X", [100, 101, 99, 100, 102, 98], unit="MB/s")
    b = lines(tmp_path / "b.txt", "X", [80, 81, 79, 80, 82, 78], unit="MB/s")
    assert run(capsys, str(a), str(b), "--fail-on", "regression>5%")[0] == 1
    assert run(capsys, str(b), str(a), "--fail-on", "regression>5%")[0] == 0


def test_markdown_and_junit_mark_the_regression(capsys):
    code, out, _ = run(capsys, NEW, OLD, "--fail-on", "regression>5%", "--format", "markdown")
    assert code == 1
    row = ("| Encode/format=json-48 | 1.423µ ± 1% | 1.718µ ± 1% "
           "| +20.77% (p=0.000 n=10) :red_circle: |")
    assert row in out
    code, out, _ = run(capsys, NEW, OLD, "--fail-on", "regression>5%", "--format", "junit")
    suite = ET.fromstring(out)
    assert suite.get("tests") == "2"
    assert suite.get("failures") == "1"
    failed = [c.get("name") for c in suite if c.find("failure") is not None]
    assert failed == ["Encode/format=json-48 [sec/op]"]


def test_benchmarks_on_one_side_only_are_shown_and_a_gate_warns(tmp_path, capsys):
    """Without a gate stderr stays benchstat's (empty); with one, the gaps are named."""
    a = tmp_path / "a.txt"
    a.write_text("BenchmarkA 1 100 ns/op\nBenchmarkB 1 200 ns/op\n")
    b = tmp_path / "b.txt"
    b.write_text("BenchmarkA 1 100 ns/op\nBenchmarkC 1 300 ns/op\n")
    code, out, err = run(capsys, str(a), str(b))
    assert code == 0
    assert "benchmark set differs from baseline; geomeans may not be comparable" in out
    assert err == ""
    code, out, err = run(capsys, str(a), str(b), "--fail-on", "regression>5%")
    assert code == 0  # A was compared: the gate judged something
    assert "B [sec/op] is missing from " in err
    assert "C [sec/op] is missing from " in err


def test_units_that_differ_between_sides_are_not_compared_and_the_gate_says_so(
        tmp_path, capsys):
    a = lines(tmp_path / "a.txt", "A", [1, 2, 3], unit="ns/op")
    b = lines(tmp_path / "b.txt", "A", [1, 2, 3], unit="B/op")
    code, out, err = run(capsys, str(a), str(b), "--fail-on", "regression>1%")
    assert code == 2
    assert "vs base" not in out
    assert "unit sec/op appears only in" in err
    assert "unit B/op appears only in" in err
    assert "nothing was compared: no unit is measured in every column" in err
    assert "a.txt: sec/op" in err


def test_gate_with_disjoint_benchmark_names_exits_2_and_names_them(tmp_path, capsys):
    """Bug 2: `--fail-on` passed (exit 0) when no benchmark name matched between the files."""
    a = lines(tmp_path / "a.txt", "Old", [1, 2, 3, 4, 5])
    b = lines(tmp_path / "b.txt", "New", [9, 9, 9, 9, 9])
    code, _, err = run(capsys, str(a), str(b), "--fail-on", "regression>5%")
    assert code == 2
    assert "nothing was compared: no benchmark name appears in two columns" in err
    assert f"{a}: Old" in err
    assert f"{b}: New" in err
    assert "hint:" in err
    assert "Traceback" not in err


def test_gate_with_config_keys_in_one_file_only_exits_2_and_suggests_ignore(tmp_path, capsys):
    """Bug 2: goos/pkg lines in one file only split the tables, so nothing paired."""
    a = tmp_path / "a.txt"
    a.write_text("goos: linux\npkg: example.com/x\n"
                 + "".join(f"BenchmarkA 1 {v} ns/op\n" for v in (1, 2, 3, 4, 5)))
    b = lines(tmp_path / "b.txt", "A", [9, 9, 9, 9, 9])
    code, _, err = run(capsys, str(a), str(b), "--fail-on", "regression>5%")
    assert code == 2
    assert "nothing was compared: the columns differ in configuration goos" in err
    assert f"{a}: linux; {b}: unset" in err
    assert "-ignore goos,pkg" in err
    # and the suggested fix does compare them (and finds the regression)
    code, _, err = run(capsys, str(a), str(b), "--fail-on", "regression>5%",
                       "-ignore", "goos,pkg")
    assert code == 1
    assert "tripped regression>5%" in err


def test_gate_on_a_single_column_exits_2(capsys):
    code, _, err = run(capsys, NEW, "--fail-on", "regression>5%")
    assert code == 2
    assert "there is only one column" in err


def test_why_nothing_compared_is_none_when_something_paired():
    from perflab import bench as b  # noqa: PLC0415

    tables = b.build_tables(b.load([OLD, NEW]), b.Options())
    assert b.why_nothing_compared(tables) is None


def test_zero_values_never_produce_a_significant_change(tmp_path, capsys):
    a = lines(tmp_path / "a.txt", "Z", [0] * 8)
    b = lines(tmp_path / "b.txt", "Z", [0] * 8)
    code, out, _ = run(capsys, str(a), str(b), "--fail-on", "regression>1%")
    assert code == 0
    assert "~ (p=1.000 n=8)" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--fail-on", "slower by 5"], "invalid --fail-on"),
    (["-alpha", "2"], "-alpha must be in range"),
    (["-filter", "(.name:x"], "missing ')'"),
    (["-filter", ".name:Nothing"], "no results left to compare"),
])
def test_bad_options_exit_2_with_a_hint(capsys, args, message):
    code, _, err = run(capsys, OLD, NEW, *args)
    assert code == 2
    assert message in err
    assert "hint:" in err
    assert "Traceback" not in err


def test_file_with_no_benchmarks_exits_2(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("PASS\n")
    code, _, err = run(capsys, OLD, str(empty))
    assert code == 2
    assert f"{empty}: no benchmark results found" in err
