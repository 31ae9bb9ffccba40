"""``perflab chaos monkey``: random terminations on a schedule, never below --min-healthy."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._faults import Controller
from tests._schemas import validate

from perflab.store import Store


@pytest.fixture
def replicas() -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """Three processes sharing a unique word in their command line."""
    tag = f"replica-{secrets.token_hex(4)}"
    procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", tag])
             for _ in range(3)]
    yield tag, procs
    for p in procs:
        p.kill()
        p.wait()


def test_the_guard_keeps_min_healthy(replicas: tuple[str, list[subprocess.Popen[bytes]]],
                                     store_path: Path) -> None:
    """3 replicas, --kill 1 --min-healthy 2: the first round kills one, every later round is
    skipped, however many rounds fit in --until."""
    tag, procs = replicas
    ctl = Controller(["monkey", "--match", tag, "--every", "100ms", "--kill", "1",
                      "--min-healthy", "2", "--until", "1s", "--json"], store_path)
    code, out, err = ctl.finish()
    assert code == 0, err
    doc = validate(json.loads(out), "chaos-monkey")
    assert len(doc["killed"]) == 1
    assert doc["skipped"] >= 1
    dead = [p for p in procs if p.poll() is not None]
    assert [p.pid for p in dead] == [doc["killed"][0]["pid"]]
    with Store.open(store_path) as store:
        events = store.events(doc["run_id"])
        assert [e.attrs["action"] for e in events][:2] == ["kill", "skip"]
        assert store.run(doc["run_id"]).meta["killed"] == 1


def test_the_monkey_needs_a_bounded_schedule(store_path: Path) -> None:
    code, _, err = Controller(["monkey", "--match", "x"], store_path).finish()
    assert code == 2
    assert "--until" in err
