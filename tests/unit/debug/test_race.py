"""Go race reports read, grouped by their pair of access sites, and `perflab race`'s output."""

import json
from pathlib import Path

from tests.unit.debug._schema import validate

from perflab.cli import main
from perflab.debug import parse_race_log

LOG = (Path(__file__).parent.parent.parent / "fixtures" / "debug" / "logs" / "race.log").read_text()


def _again(log: str, g1: int, g2: int) -> str:
    """The same race between two other goroutines (the fixture's are 7 and 9)."""
    for old, new in (("oroutine 7", f"oroutine {g1}"), ("oroutine 9", f"oroutine {g2}")):
        log = log.replace(old, new)
    return log


def test_reports_of_one_pair_of_sites_are_one_group():
    text = "=== RUN   TestHits\n" + LOG + _again(LOG, 30, 31) + "--- FAIL: TestHits (0.01s)\n"
    log = parse_race_log(text)
    (group,) = log.groups()
    assert (len(log.reports), group.count, group.functions) == (2, 2, ["main.recordHit"])
    assert group.goroutines == {7, 9, 30, 31}
    read, write = group.first.accesses
    assert (read.kind, read.previous, write.kind, write.previous) == ("read", False, "write", True)
    assert read.site is not None
    assert read.site.where() == "/src/race/main.go:22"
    assert group.first.created[7][1][0].function == "main.main"
    assert log.summary == "Found 1 data race(s)"


def test_a_log_cut_inside_a_report_keeps_it_and_warns():
    cut = LOG[: LOG.index("Goroutine 7 (running)")]
    log = parse_race_log(cut)
    assert len(log.reports) == 1
    assert any("truncated" in w for w in log.warnings)


def test_the_main_goroutine_and_different_sites_are_separate_groups():
    other = LOG.replace("by goroutine 7:", "by main goroutine:").replace("main.go:22", "main.go:40")
    log = parse_race_log(LOG + other)
    assert len(log.groups()) == 2
    assert any(a.goroutine is None for g in log.groups() for a in g.first.accesses)


def test_cli_log_exits_1_with_a_schema_valid_document(tmp_path, capsys, store_path):
    path = tmp_path / "race.log"
    path.write_text(LOG)
    code = main(["race", "--log", str(path), "--store", str(store_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "race")
    assert (code, doc["found"], doc["groups"][0]["functions"]) == (1, True, ["main.recordHit"])


def test_cli_clean_log_exits_0_and_bad_usage_exits_2(tmp_path, capsys, store_path):
    path = tmp_path / "clean.log"
    path.write_text("ok\tpkg\t0.01s\n")
    assert main(["race", "--log", str(path), "--store", str(store_path)]) == 0
    assert main(["race", "--store", str(store_path)]) == 2
    assert "give either a command" in capsys.readouterr().err


def test_cli_runs_a_command_and_reads_its_output(tmp_path, capsys, store_path):
    path = tmp_path / "race.log"
    path.write_text(LOG)
    code = main(["race", "--store", str(store_path), "--json", "--", "cat", str(path)])
    doc = json.loads(capsys.readouterr().out)
    assert (code, doc["exit_status"], doc["reports"]) == (1, 0, 1)
    code = main(["race", "--store", str(store_path), "--", "/nonexistent/prog"])
    assert code == 3
