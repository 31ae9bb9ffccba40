"""The record of a store's running hub (``<store>-hub.json``): written atomically with mode
0600, read back only while its owner lives, removed only by its owner, a malformed one read as
no hub, and a token found through its reference (a file, a variable), never stored."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from perflab.logs._hub_follow import hub_token
from perflab.store import hub_record_path, publish_hub, running_hub, withdraw_hub


def test_publish_then_read_then_withdraw(tmp_path):
    db = tmp_path / "s.db"
    path = publish_hub(db, "http://127.0.0.1:8600", {"env": "PERFLAB_TOKEN"})
    assert path == hub_record_path(db) == tmp_path / "s.db-hub.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    found = running_hub(db)
    assert found is not None
    assert (found.url, found.token_ref, found.owner.pid) == (
        "http://127.0.0.1:8600", {"env": "PERFLAB_TOKEN"}, os.getpid())
    assert [p.name for p in tmp_path.iterdir()] == ["s.db-hub.json"]  # no temporary left
    withdraw_hub(db)
    assert not path.exists()
    assert running_hub(db) is None
    withdraw_hub(db)  # nothing to remove: no error


def test_a_dead_owners_record_is_ignored_and_not_removed_by_another(tmp_path):
    db = tmp_path / "s.db"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    publish_hub(db, "http://127.0.0.1:8600", None)
    doc = json.loads(hub_record_path(db).read_text())
    doc["pid"] = int(dead.stdout)
    hub_record_path(db).write_text(json.dumps(doc))
    assert running_hub(db) is None
    withdraw_hub(db)  # not this process's record: left for its writer
    assert hub_record_path(db).exists()


@pytest.mark.parametrize("text", ["", "{", "[]", '{"url": "http://x"}',
                                  json.dumps({"format": 1, "url": "file:///etc/passwd",
                                              "token": None, "host": "h", "pid": 1,
                                              "start_ticks": None, "boot_id": None})])
def test_a_malformed_record_is_no_hub(tmp_path, text):
    db = tmp_path / "s.db"
    hub_record_path(db).write_text(text)
    assert running_hub(db) is None


def test_the_token_is_read_through_its_reference(tmp_path, monkeypatch):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\nignored\n")
    assert hub_token({"file": str(token_file)}) == "s3cret"
    assert hub_token({"file": str(tmp_path / "gone")}) is None
    monkeypatch.setenv("PERFLAB_TOKEN", "from-env")
    assert hub_token({"env": "PERFLAB_TOKEN"}) == "from-env"
    monkeypatch.delenv("PERFLAB_TOKEN")
    assert hub_token({"env": "PERFLAB_TOKEN"}) is None
    assert hub_token(None) is None
