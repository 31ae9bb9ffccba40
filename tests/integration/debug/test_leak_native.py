"""``perflab leak PID`` on a native (C) process: bpftrace uprobes on libc's malloc/calloc/realloc/
free name the growing allocation site. A real program built here leaks at ``remember_request``
and frees its temporaries in ``handle_request``: the leaking function is ranked first and the
freed ones are not listed; with the leak off, nothing is listed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from tests.conftest import require_root, require_tool

pytestmark = [pytest.mark.integration, pytest.mark.root]
ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "tests" / "fixtures" / "debug" / "cleak.c"
SCHEMA = json.loads((ROOT / "docs" / "schemas" / "leak.schema.json").read_text())
SOURCE_NAME = "native malloc sampling (bpftrace uprobes on libc)"
MALLOC_LINE = 1 + SOURCE.read_text().splitlines().index("    char *record = malloc(RECORD);")


@pytest.fixture(scope="module")
def cleak(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = require_tool("gcc")
    binary = tmp_path_factory.mktemp("cleak") / "cleak"
    # -O2 as a release build is; frame pointers so that the uprobe's stack walk reaches main
    subprocess.run([gcc, "-O2", "-g", "-fno-omit-frame-pointer", "-o", str(binary),
                    str(SOURCE)], check=True, capture_output=True, timeout=120)
    return binary


def _leak(pid: int, tmp_path: Path) -> tuple[int, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"),
           "PERFLAB_DEBUG_DIR": str(tmp_path / "none")}
    out = subprocess.run([sys.executable, "-m", "perflab", "leak", str(pid), "-d", "20s", "-i",
                          "1s", "--warmup", "1s", "--json", "--store", str(tmp_path / "lab.db")],
                         capture_output=True, text=True, env=env, timeout=240, check=False)
    assert out.returncode in (0, 1), out.stderr
    doc = json.loads(out.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    return out.returncode, doc


@pytest.mark.parametrize("leaking", [True, False])
def test_the_leaking_function_of_a_c_program_is_named_first(cleak, tmp_path, leaking):
    require_root("bpftrace uprobes")
    require_tool("bpftrace")
    proc = subprocess.Popen([str(cleak), *([] if leaking else ["--no-leak"])],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("ready")
    try:
        code, doc = _leak(proc.pid, tmp_path)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert doc["site_source"] == SOURCE_NAME
    assert doc["snapshots"] >= 2, doc["notes"]
    functions = [s["function"] for s in doc["sites"]]
    assert "handle_request" not in functions  # its temporaries are freed
    if leaking:
        assert code == 1
        assert doc["verdict"] == "leak"
        top = doc["sites"][0]
        assert top["function"] == "remember_request"
        # the source line of the malloc, from the binary's debug information
        assert (top["file"], top["line"]) == (str(SOURCE), MALLOC_LINE)
        assert top["stack"][0] == f"remember_request ({cleak})"
        assert top["objects_growth"] > 0
        assert top["stack"][1].startswith("main ")
    else:
        assert code == 0, doc["reason"]
        assert "remember_request" not in functions


def test_without_bpftrace_the_watch_keeps_the_trend_and_says_why(cleak, tmp_path):
    proc = subprocess.Popen([str(cleak), "--no-leak"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PATH": str(tmp_path / "empty"),
           "PERFLAB_DEBUG_DIR": str(tmp_path / "none")}
    try:
        out = subprocess.run([sys.executable, "-m", "perflab", "leak", str(proc.pid), "-d",
                              "2s", "-i", "1s", "--warmup", "1ms", "--json", "--store",
                              str(tmp_path / "lab.db")], capture_output=True, text=True,
                             env=env, timeout=120, check=False)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["sites"] == []
    assert any("no native allocation sites" in n and "bpftrace" in n for n in doc["notes"])
    assert [s["name"] for s in doc["series"]][:1] == ["rss"]
