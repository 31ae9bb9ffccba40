"""``perflab run --debug -- python app.py`` starts the debug agent in an unchanged program; with
``--trace`` the OpenTelemetry zero-code instrumentation still runs (perflab's sitecustomize
chains to OTel's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from perflab.debug import agent_get

pytestmark = pytest.mark.integration
SRC = Path(__file__).resolve().parents[3] / "src"

APP = textwrap.dedent("""
    import json, os, sys, time
    print(json.dumps({"pid": os.getpid(),
                      "otel": "opentelemetry.instrumentation.auto_instrumentation" in sys.modules}),
          flush=True)
    time.sleep(120)
""")


@pytest.mark.parametrize("trace", [False, True])
def test_run_debug_starts_the_agent_without_code_change(tmp_path, monkeypatch, trace):
    agents = tmp_path / "agents"
    monkeypatch.setenv("PERFLAB_DEBUG_DIR", str(agents))
    script = tmp_path / "app.py"
    script.write_text(APP)
    env = {**os.environ, "PYTHONPATH": str(SRC), "PERFLAB_DEBUG_DIR": str(agents)}
    flags = ["--debug", *(["--trace"] if trace else [])]
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "run", *flags, "--store", str(tmp_path / "lab.db"),
         "--hub", "http://127.0.0.1:9", "--", sys.executable, str(script)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.communicate(timeout=30)
        child = json.loads(line)
        assert child["otel"] is trace
        deadline = time.monotonic() + 60
        while not (agents / f"{child['pid']}.sock").exists():
            assert time.monotonic() < deadline, "no agent socket"
            time.sleep(0.05)
        assert agent_get(child["pid"], "/", directory=agents)["pid"] == child["pid"]
    finally:
        proc.terminate()  # perflab run passes it on to the child's process group
        proc.communicate(timeout=60)
