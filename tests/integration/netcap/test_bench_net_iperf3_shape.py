"""perflab bench net --json against iperf3 -J on the same kind of test: every key perflab
writes where iperf3 has a counterpart is at the same path in iperf3's own document, with the
same meaning of ``sender``, so scripts written for iperf3 read perflab's unchanged."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from tests.conftest import require_tool, wait_for

from perflab.cli import main
from perflab.testing import free_port

pytestmark = pytest.mark.integration

PERFLAB_ONLY = {"schema", "start.netns"}


def _iperf3(iperf3: str, flags: list[str]) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen([iperf3, "-s", "-1", "-p", str(port), "-B", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def client() -> str:
            out = subprocess.run([iperf3, "-c", "127.0.0.1", "-p", str(port), "-t", "1", "-J",
                                  *flags], capture_output=True, text=True, timeout=60,
                                 check=False)
            # until the server listens: an exit code, or (-J) a document with an "error"
            return out.stdout if out.returncode == 0 and '"error"' not in out.stdout else ""
        doc: dict[str, Any] = json.loads(wait_for(client, timeout_s=30, what="iperf3's server"))
        return doc
    finally:
        server.kill()
        server.wait()


def _paths(doc: object, prefix: str = "") -> set[str]:
    """Key paths of a document; lists by their first element (``intervals[].sum.bytes``)."""
    if isinstance(doc, dict):
        paths = set()
        for key, value in doc.items():
            path = f"{prefix}.{key}" if prefix else key
            paths |= {path} | _paths(value, path)
        return paths
    if isinstance(doc, list) and doc:
        return _paths(doc[0], f"{prefix}[]")
    return set()


@pytest.mark.parametrize("flags", [["-P", "2"], ["-u", "-b", "10M", "-P", "2", "-R"]])
def test_perflab_keys_are_iperf3_keys(flags: list[str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    theirs = _iperf3(require_tool("iperf3"), flags)
    assert main(["bench", "net", "-t", "1s", *flags, "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)
    missing = {p for p in _paths(ours) - _paths(theirs)
               if not any(p == o or p.startswith(o + ".") for o in PERFLAB_ONLY)}
    assert missing == set()
    for key in ("protocol", "num_streams", "reverse"):
        assert ours["start"]["test_start"][key] == theirs["start"]["test_start"][key]
    for name in ("sum_sent", "sum_received", *(["sum"] if "-u" in flags else [])):
        assert ours["end"][name]["sender"] == theirs["end"][name]["sender"], name
    assert ours["intervals"][0]["sum"]["sender"] == theirs["intervals"][0]["sum"]["sender"]
