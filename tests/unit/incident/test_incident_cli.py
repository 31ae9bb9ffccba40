"""The incident commands end to end on a store: deploys, notes and actions, close with its
postmortem draft, ls, runbooks (a hanging and a failing step are recorded, not fatal),
bundle; every --json against its schema; bad input as one line and its exit code."""

from __future__ import annotations

import json
import tarfile

from click.testing import CliRunner
from tests._schemas import validate

from perflab.cli import cli, main
from perflab.store import Store, add_incident_item, create_incident, replace_findings


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _incident(path) -> int:
    with Store.open(path) as store:
        run = create_incident(store, "checkout <b>slow</b>", suspects={"pids": [1]})
        store.finish_run(run.id, "ok")
        add_incident_item(store, run.id, "evidence", "system", attrs={"status": "ok"})
        replace_findings(store, run.id, [("CPU hot path in PID 1: f", "f is 80 %", 0.9,
                                          {"category": "profile", "resource": "cpu 1",
                                           "evidence": ["cpu-profile 1"], "link": "/x"})])
        return run.id


def test_event_deploy_records_a_marker_and_prints_its_schema(store_path):
    doc = json.loads(_run("event", "deploy", "--service", "checkout", "--version", "v42",
                          "--store", str(store_path), "--json"))
    validate(doc, "event-deploy")
    assert (doc["event"]["service"], doc["event"]["version"]) == ("checkout", "v42")
    with Store.open(store_path) as store:
        assert store.run(doc["event"]["run_id"]).kind == "deploy"
    assert "recorded" in _run("event", "deploy", "--service", "a", "--version", "1",
                              "--store", str(store_path))


def test_notes_actions_close_and_the_postmortem_draft(store_path, tmp_path):
    iid = _incident(store_path)
    s = ("--store", str(store_path))
    note = json.loads(_run("incident", "note", str(iid), "restarted the pod", *s, "--json"))
    validate(note, "incident-note")
    _run("incident", "note", str(iid), "add a CPU budget test", "--action", *s)
    out = tmp_path / "pm.md"
    closed = json.loads(_run("incident", "close", str(iid), "-o", str(out), *s, "--json"))
    validate(closed, "incident-close")
    text = out.read_text()
    assert text == closed["postmortem"]
    assert text.startswith("# Postmortem (draft): checkout \\<b\\>slow\\</b\\>")
    for heading in ("## Summary", "## Impact", "## Timeline", "## Root-cause evidence",
                    "## Action items"):
        assert heading in text
    assert "Most likely cause: **CPU hot path in PID 1: f**" in text
    assert "- [ ] add a CPU budget test" in text
    assert "note: restarted the pod" in text
    assert "1. **CPU hot path in PID 1: f**: f is 80 %; from cpu-profile 1 ([evidence](/x))" \
        in text
    shown = json.loads(_run("incident", "show", str(iid), *s, "--json"))
    validate(shown, "incident")
    assert shown["status"] == "closed"
    assert [e["kind"] for e in shown["entries"]] == ["note", "action"]
    listed = json.loads(_run("incident", "ls", *s, "--json"))
    validate(listed, "incident-ls")
    assert listed["incidents"][0]["top_finding"] == "CPU hot path in PID 1: f"
    assert "checkout <b>slow</b>" in _run("incident", "ls", *s)


def test_text_show_lists_findings_with_their_evidence(store_path):
    iid = _incident(store_path)
    text = _run("incident", "show", str(iid), "--store", str(store_path))
    assert "   1. [0.90] CPU hot path in PID 1: f" in text
    assert "<- cpu-profile 1  /x" in text


def test_bad_input_is_one_line_with_its_exit_code(store_path, capsys):
    iid = _incident(store_path)
    s = ["--store", str(store_path)]
    assert main(["incident", "show", "999", *s]) == 2
    assert "perflab: error: no incident 999" in capsys.readouterr().err
    assert main(["incident", "note", str(iid), "  ", *s]) == 2
    assert main(["incident", "close", str(iid), *s]) == 0
    capsys.readouterr()
    assert main(["incident", "close", str(iid), *s]) == 2
    assert "already closed" in capsys.readouterr().err
    assert main(["incident", "open", "x", "--pid", "4194311", "--profile-duration", "0",
                 *s]) == 3
    assert "no process with PID 4194311" in capsys.readouterr().err
    assert main(["event", "deploy", "--service", "", "--version", "1", *s]) == 2


def test_a_runbook_records_every_step_even_a_hanging_and_a_failing_one(store_path, tmp_path,
                                                                        monkeypatch):
    books = tmp_path / "books"
    books.mkdir()
    (books / "slow.yaml").write_text(
        "name: checkout-slow\nalerts: [CheckoutLatencyHigh]\nsteps:\n"
        "  - name: hello\n    shell: echo hello from the runbook\n"
        "  - name: hangs\n    shell: sleep 300\n    timeout: 1s\n"
        "  - name: fails\n    shell: echo broken >&2; exit 4\n"
        "  - name: runs\n    perflab: runs --json\n    timeout: 60s\n")
    monkeypatch.setenv("PERFLAB_RUNBOOKS", str(books))
    iid = _incident(store_path)
    doc = json.loads(_run("incident", "run-book", "CheckoutLatencyHigh", "--incident", str(iid),
                          "--store", str(store_path), "--json"))
    validate(doc, "incident-runbook")
    assert [(s["name"], s["status"]) for s in doc["steps"]] == [
        ("hello", "ok"), ("hangs", "timeout"), ("fails", "failed"), ("runs", "ok")]
    assert doc["steps"][2]["exit_code"] == 4
    with Store.open(store_path) as store:
        outputs = {a.name: store.artifact_data(a.id) for a in store.artifacts(iid, "runbook")}
    assert outputs["runbook checkout-slow: hello"].startswith(b"hello from the runbook")
    assert b"broken" in outputs["runbook checkout-slow: fails"]


def test_a_broken_runbook_names_its_file_and_line(store_path, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - name: x\n    shell: [unclosed\n")
    assert main(["incident", "run-book", str(bad), "--store", str(store_path)]) == 2
    err = capsys.readouterr().err
    assert f"perflab: error: {bad}:" in err
    assert "not valid YAML" in err
    neither = tmp_path / "neither.yaml"
    neither.write_text("steps:\n  - name: x\n")
    assert main(["incident", "run-book", str(neither), "--store", str(store_path)]) == 2
    assert "either `perflab: ARGS` or `shell: COMMAND`" in capsys.readouterr().err
    assert main(["incident", "run-book", "nothing-by-that-name", "--store",
                 str(store_path)]) == 2
    assert "no runbook 'nothing-by-that-name'" in capsys.readouterr().err


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    f = tar.extractfile(name)
    assert f is not None
    return f.read()


def test_bundle_holds_the_report_postmortem_and_raw_evidence(store_path, tmp_path):
    iid = _incident(store_path)
    with Store.open(store_path) as store:
        art = store.add_artifact(iid, "evidence", b'{"a": 1}', name="proc ../../etc")
        add_incident_item(store, iid, "evidence", "proc ../../etc",
                          attrs={"status": "ok", "artifact_id": art})
    out = tmp_path / "incident.tar.gz"
    doc = json.loads(_run("incident", "bundle", str(iid), "-o", str(out), "--store",
                          str(store_path), "--json"))
    validate(doc, "incident-bundle")
    with tarfile.open(out) as tar:
        names = tar.getnames()
        assert all(n.startswith("incident/") and ".." not in n.split("/") for n in names)
        report = _member(tar, "incident/report.html")
        pm = _member(tar, "incident/postmortem.md").decode()
    assert {"incident/incident.json", "incident/postmortem.md", "incident/timeline.json",
            "incident/report.html"} <= set(names)
    assert any(n.startswith("incident/evidence/") and n.endswith("proc_.._.._etc.json")
               for n in names)
    assert b'<script src="http' not in report  # opens offline
    assert pm.startswith("# Postmortem (draft)")
    assert doc["bytes"] == out.stat().st_size
