"""The evidence providers, ``type: perflab`` ``profile`` and ``incident``: a real profile of a
real process stored on a run, a real incident capture, their journal entries, the bound that
stops a capture which runs too long, and the argument errors found at validation (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests._schemas import validate

from perflab.chaos import ExperimentContext, ExperimentInvalid, providers, validate_experiment
from perflab.chaos._activities import execute_activity
from perflab.chaos._captures import CaptureFailed, run_perflab
from perflab.cli import main
from perflab.store import Store

BUSY = "import sys, time\nwhile True: sum(range(10000))  # chaosx-capture-target {}"


@pytest.fixture
def busy(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Python process burning CPU, with a marker in its command line for ``match``."""
    proc = subprocess.Popen([sys.executable, "-c", BUSY.format(tmp_path.name)])
    yield proc
    proc.kill()
    proc.wait()


def _action(provider: dict[str, Any]) -> dict[str, Any]:
    return execute_activity({"type": "action", "name": "capture", "provider": provider},
                            ExperimentContext({}, {}))


def _experiment(*method: dict[str, Any]) -> dict[str, Any]:
    return {"title": "t", "description": "d", "method": list(method)}


def _capture(func: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "action", "name": func,
            "provider": {"type": "perflab", "func": func, "arguments": arguments}}


def test_profile_by_pid_is_stored_as_a_slice_on_a_profile_run(busy, tmp_path):
    store = tmp_path / "s.db"
    run = _action({"type": "perflab", "func": "profile",
                   "arguments": {"pid": busy.pid, "duration": "1s", "store": str(store)}})
    assert run["status"] == "succeeded", run.get("exception")
    doc = run["output"]
    validate(doc, "profile-continuous")
    assert doc["pid"] == busy.pid
    assert doc["slices"] >= 1  # the profiler's last slice may be cut in two at the end
    with Store.open(store) as db:
        assert db.run(doc["run"]).kind == "profile"


def test_profile_by_match_finds_the_process(busy, tmp_path):
    doc = providers.profile(match=f"chaosx-capture-target {tmp_path.name}", duration=1,
                            store=str(tmp_path / "s.db"))
    assert doc["pid"] == busy.pid


def test_a_profile_that_fails_is_the_activity_failure_with_perflab_s_error(tmp_path):
    proc = subprocess.Popen(["true"])
    proc.wait()
    run = _action({"type": "perflab", "func": "profile",
                   "arguments": {"pid": proc.pid, "duration": "1s",
                                 "store": str(tmp_path / "s.db")}})
    assert run["status"] == "failed"
    assert "perflab profile exited with 3: perflab: error:" in "".join(run["exception"])


def test_an_incident_capture_is_opened_and_answers_its_document(busy, tmp_path):
    store = tmp_path / "s.db"
    run = _action({"type": "perflab", "func": "incident", "arguments": {
        "title": "checkout slow under the latency toxic", "pid": busy.pid,
        "profile_duration": 0, "timeout": "2m", "store": str(store)}})
    assert run["status"] == "succeeded", run.get("exception")
    doc = run["output"]
    validate(doc, "incident")
    assert doc["title"] == "checkout slow under the latency toxic"
    assert doc["suspects"]["pids"] == [busy.pid]
    assert any(e["step"] == f"proc {busy.pid}" for e in doc["evidence"])


def test_a_capture_past_its_limit_is_killed_with_its_process_group(busy):
    with pytest.raises(CaptureFailed, match="took longer than 2 s"):
        run_perflab(["profile", "capture", str(busy.pid), "--duration", "10m"], 2)
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True,
                         check=True).stdout
    assert f"profile capture {busy.pid} --duration 10m" not in out


def test_the_providers_run_in_an_experiment_and_are_journaled(busy, tmp_path):
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps(_experiment(
        _capture("profile", pid=busy.pid, duration="1s", store=str(tmp_path / "s.db")))))
    journal = tmp_path / "journal.json"
    code = main(["chaos", "run", str(exp), "--journal-path", str(journal),
                 "--store", str(tmp_path / "runs.db")])
    assert code == 0
    entry = json.loads(journal.read_text())["run"][0]
    assert entry["status"] == "succeeded"
    assert entry["activity"]["provider"]["func"] == "profile"
    assert entry["output"]["slices"] >= 1


@pytest.mark.parametrize(("arguments", "problem"), [
    ({"duration": "1s"}, "profile needs one target: pid or match"),
    ({"pid": 1, "match": "x"}, "profile needs one target"),
    ({"pid": -4}, "pid is a positive number"),
    ({"pid": "abc"}, "pid is a positive number"),
    ({"pid": 1, "duration": "1h"}, "duration must be within 0.1-300 s"),
    ({"pid": 1, "duration": "soon"}, "duration is a duration"),
    ({"pid": 1, "mode": "gpu"}, "mode is one of cpu, wall, offcpu"),
    ({"pid": 1, "rate": 0}, "rate is a number of samples per second"),
    ({"pid": 1, "seconds": 3}, "profile takes no argument 'seconds'"),
])
def test_profile_arguments_are_checked_at_validation(arguments, problem):
    with pytest.raises(ExperimentInvalid, match=problem) as info:
        validate_experiment(_experiment(_capture("profile", **arguments)), "exp.json")
    assert "method[0].provider.arguments" in str(info.value)


@pytest.mark.parametrize(("arguments", "problem"), [
    ({"pid": 1}, "incident needs a title"),
    ({"title": " "}, "incident needs a title"),
    ({"title": "t", "pids": [1, 0]}, "pid is a positive number"),
    ({"title": "t", "profile_duration": 90}, "profile_duration must be within 0-60 s"),
    ({"title": "t", "timeout": "1h"}, "timeout must be within 1-600 s"),
    ({"title": "t", "when": "now"}, "incident takes no argument 'when'"),
])
def test_incident_arguments_are_checked_at_validation(arguments, problem):
    with pytest.raises(ExperimentInvalid, match=problem):
        validate_experiment(_experiment(_capture("incident", **arguments)), "exp.json")


def test_an_unknown_perflab_provider_is_invalid_at_its_func_and_variables_wait(tmp_path):
    with pytest.raises(ExperimentInvalid, match=r"provider\.func: no perflab provider 'flame'"):
        validate_experiment(_experiment(_capture("flame")), "exp.json")
    # a value from the configuration is only known at run time
    validate_experiment(_experiment(_capture("profile", pid="${pid}")), "exp.json")
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps(_experiment(_capture("incident", title="t", timeout="3h"))))
    r = subprocess.run([sys.executable, "-m", "perflab", "chaos", "validate", str(exp)],
                       capture_output=True, text=True, timeout=60, check=False,
                       env={**os.environ})
    assert r.returncode == 2
    assert r.stderr.startswith("perflab: error: ")
    assert "method[0].provider.arguments: timeout must be within 1-600 s" in r.stderr
