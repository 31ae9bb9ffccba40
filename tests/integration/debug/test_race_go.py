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
