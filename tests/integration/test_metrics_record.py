"""`perflab promql` on a `perflab record` run answers as on the hub's: the node_* counters are
there (a real subprocess recording this machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PERFLAB = [sys.executable, "-m", "perflab"]


def _perflab(*args: str) -> dict:
    out = subprocess.run([*PERFLAB, *args], capture_output=True, text=True, check=True,
                         timeout=120)
    return json.loads(out.stdout)


def test_promql_rules_work_on_a_recording(tmp_path: Path) -> None:
    store = str(tmp_path / "perflab.db")
    run = _perflab("record", "--store", store, "--interval", "500ms", "--duration", "3s",
                   "--json")["run"]
    sel = f'perflab_run="{run["id"]}"'
    # the CPU saturation rule's shape: a rate over the counter, by mode (the window reaches
    # back over the whole run: this query may start seconds after it ended)
    busy = _perflab("promql", "--store", store, "--json",
                    f"sum by (mode) (rate(node_cpu_seconds_total{{{sel}}}[1h]))")
    modes = {item["metric"]["mode"] for item in busy["result"]}
    assert {"idle", "user", "system"} <= modes
    for expr in (f'node_filesystem_avail_bytes{{{sel},mountpoint="/"}} > 0',
                 f"node_memory_MemAvailable_bytes{{{sel}}}",
                 f'up{{{sel},job="perflab"}} == 1'):
        assert _perflab("promql", "--store", store, "--json", expr)["result"], expr
