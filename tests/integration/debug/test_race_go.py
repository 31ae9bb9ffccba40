"""`perflab race` on a real Go program built with -race: the planted race in recordHit is found
and named; with the race switched off (a mutex) there is no finding."""

from __future__ import annotations

import json
import os

from tests.integration.debug._goprogs import build

from perflab.cli import main


def test_planted_race_is_found_and_the_fixed_program_is_clean(capsys, store_path, monkeypatch):
    binary = str(build("race", race=True))
    code = main(["race", "--json", "--store", str(store_path), "--", binary])
    doc = json.loads(capsys.readouterr().out)
    assert (code, doc["exit_status"]) == (1, 66)  # 66: the race detector's exit status
    assert doc["groups"][0]["functions"][0] == "main.recordHit"
    assert doc["groups"][0]["created"][0]["frames"][0]["function"] == "main.main"
    monkeypatch.setitem(os.environ, "RACE", "off")
    code = main(["race", "--json", "--store", str(store_path), "--", binary])
    doc = json.loads(capsys.readouterr().out)
    assert (code, doc["groups"]) == (0, [])


def test_go_test_race_through_perflab_race(capsys, store_path, monkeypatch):
    """`perflab race -- go test -race .`: the test binary's reports, the same group."""
    from tests.conftest import require_tool  # noqa: PLC0415
    from tests.integration.debug._goprogs import FIXTURES  # noqa: PLC0415

    go = require_tool("go")
    monkeypatch.chdir(FIXTURES / "race")
    monkeypatch.setenv("GOFLAGS", "-mod=mod")
    code = main(["race", "--json", "--store", str(store_path), "--", go, "test", "-race",
                 "-count=1", "."])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    # under go test the package is named by its module path, `race`: still the program's own
    assert doc["groups"][0]["functions"][0] == "race.recordHit"
    monkeypatch.setenv("RACE", "off")
    code = main(["race", "--json", "--store", str(store_path), "--", go, "test", "-race",
                 "-count=1", "."])
    doc = json.loads(capsys.readouterr().out)
    assert (code, doc["groups"], doc["exit_status"]) == (0, [], 0)
