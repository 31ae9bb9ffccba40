"""``perflab incident open --pid PID`` on a real Go service finds its net/http/pprof port
without ``--pprof``: of its three loopback listeners (an application port whose
/debug/pprof is a 404, a port that accepts and never answers, the pprof port) only the pprof
one is taken, the hung one costs a bounded probe, and the capture keeps the goroutine dump."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from tests.integration.debug._goprogs import build

from perflab.incident import CaptureOptions, incident_document, open_incident
from perflab.incident._pprof_detect import detect_pprof, loopback_listeners
from perflab.store import incident_items


@contextmanager
def _suspect() -> Iterator[tuple[int, list[str]]]:
    """The fixture service: its PID and its three addresses (app, hung, pprof)."""
    proc = subprocess.Popen([str(build("pprof_suspect"))], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        addrs = [proc.stdout.readline().strip() for _ in range(3)]
        assert all(a.startswith("127.0.0.1:") for a in addrs), addrs
        yield proc.pid, addrs
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_pprof_port_of_a_go_pid_is_found():
    with _suspect() as (pid, (app, hung, pprof)):
        ports = {port for _, port in loopback_listeners(pid)}
        assert ports == {int(a.rsplit(":", 1)[1]) for a in (app, hung, pprof)}
        assert detect_pprof(pid) == [f"http://{pprof}"]


def test_an_incident_on_a_go_pid_keeps_its_goroutine_dump(store):
    with _suspect() as (pid, (_app, _hung, pprof)):
        captured = open_incident(store, CaptureOptions("go slow", pids=(pid,), profile_s=0))
    url = f"http://{pprof}"
    doc = incident_document(store, captured.incident_id)
    assert doc["suspects"]["pprof"] == [url]
    steps = {i.title: i.attrs for i in incident_items(store, captured.incident_id, "evidence")}
    assert steps[f"goroutines {url}"]["status"] == "ok", steps[f"goroutines {url}"]
    art = next(e["artifact_id"] for e in doc["evidence"] if e["step"] == f"goroutines {url}")
    assert b"parkedWorker" in store.artifact_data(art)
