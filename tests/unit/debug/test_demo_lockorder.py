"""The demo service's planted lock-order inversion: with lockwatch on (PERFLAB_LOCKWATCH=1, as
the demo starts it), a cache miss and then a report under the lock fault take the two locks in
opposite orders; the demo's check names both functions and stores the finding on its run,
without anything hanging. With the lock fault off the second order never happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.demo._lockorder import check_lock_order
from perflab.store import Store

if TYPE_CHECKING:
    from collections.abc import Iterator

SRC = str(Path(__file__).parent.parent.parent.parent / "src")


@contextmanager
def demo_service(tmp_path: Path) -> Iterator[tuple[int, str]]:
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONPATH": SRC, "PERFLAB_DEBUG": "1", "PERFLAB_LOCKWATCH": "1",
           "PERFLAB_DEBUG_DIR": str(tmp_path / "agents")}
    proc = subprocess.Popen([sys.executable, "-m", "perflab.demo.service", "--port", "0",
                             "--port-file", str(port_file)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            assert time.monotonic() < deadline, "the demo service did not start"
            assert proc.poll() is None, "the demo service exited"
            time.sleep(0.05)
        yield proc.pid, f"http://127.0.0.1:{port_file.read_text().strip()}"
    finally:
        proc.kill()
        proc.wait(timeout=30)


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=30) as resp:  # loopback
        resp.read()


def test_the_demo_inversion_is_found_and_stored(tmp_path, store_path):
    with Store.open(store_path) as store:
        run_id = store.create_run("demo", "d").id
    with demo_service(tmp_path) as (pid, base):
        _get(f"{base}/cache?key=a&kib=1")            # cache lock, then report lock
        _get(f"{base}/report?ms=1")                  # lock fault off: no report lock
        first = check_lock_order(store_path, run_id, pid, tmp_path / "agents")
        _get(f"{base}/admin/faults?lock=on")
        _get(f"{base}/report?ms=1")                  # report lock, then cache lock
        second = check_lock_order(store_path, run_id, pid, tmp_path / "agents")
    assert first == "lockwatch: no lock-order inversion in the service"
    assert "note_report" in second
    assert "_report_miss" in second
    with Store.open(store_path) as store:
        events = [e for e in store.events(run_id) if e.kind == "debug.lock-inversion"]
        stacks = store.artifacts(run_id, "stacks")
        doc = json.loads(store.artifact_data(stacks[-1].id))
    assert len(events) == 1
    assert doc["inversions"][0]["functions"] == events[0].attrs["functions"]
