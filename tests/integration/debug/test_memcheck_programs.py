"""``perflab memcheck`` on small C programs compiled here: valgrind memcheck finds the planted
leak and invalid read (exit 1) and nothing in a clean program (exit 0); a crash under valgrind
keeps its errors; massif's peak names the allocating function; an ASan build's log is read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from tests.conftest import require_tool

from perflab.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.uprobes]  # valgrind dies of uprobes
ROOT = Path(__file__).resolve().parents[3]
FIX = ROOT / "tests" / "fixtures" / "debug"
SCHEMA = json.loads((ROOT / "docs" / "schemas" / "memcheck.schema.json").read_text())
CLEAN = "#include <stdlib.h>\nint main(void) { void *p = malloc(8); free(p); return 0; }\n"


def _cc(tmp_path: Path, source: Path | str, *flags: str) -> Path:
    gcc = require_tool("gcc")
    if isinstance(source, str):
        path = tmp_path / "clean.c"
        path.write_text(source)
        source = path
    out = tmp_path / (source.stem + ("-asan" if flags else ""))
    subprocess.run([gcc, "-g", "-O0", *flags, "-o", str(out), str(source)], check=True,
                   capture_output=True, timeout=120)
    return out


def _memcheck(tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-m", "perflab", "memcheck", "--json", "--store",
                          str(tmp_path / "lab.db"), *args], capture_output=True, text=True,
                         env=env, timeout=300, check=False)
    if out.returncode in (0, 1):
        doc = json.loads(out.stdout)
        jsonschema.Draft202012Validator(SCHEMA).validate(doc)
        return out.returncode, doc, out.stderr
    return out.returncode, {}, out.stderr


def test_memcheck_finds_the_planted_leak_and_invalid_read(tmp_path):
    require_tool("valgrind")
    code, doc, _ = _memcheck(tmp_path, "--", str(_cc(tmp_path, FIX / "memcheck_bad.c")))
    assert code == 1
    functions = [(g["kind"], g["function"]) for g in doc["groups"]]
    assert ("InvalidRead", "read_past_end") in functions
    assert ("Leak_DefinitelyLost", "keep_forever") in functions
    assert doc["leak_summary"]["definitely_lost"] == 350
    with Store.open(tmp_path / "lab.db") as store:
        run = store.run(doc["run"]["id"])
        assert run.kind == "memcheck"
        assert [e.kind for e in store.events(run.id)] == ["debug.memcheck"]


def test_a_clean_program_passes(tmp_path):
    require_tool("valgrind")
    code, doc, _ = _memcheck(tmp_path, "--", str(_cc(tmp_path, CLEAN)))
    assert code == 0
    assert doc["groups"] == []
    assert not doc["failing"]


def test_a_crash_under_valgrind_keeps_its_errors(tmp_path):
    require_tool("valgrind")
    code, doc, stderr = _memcheck(tmp_path, "--", str(_cc(tmp_path, FIX / "memcheck_crash.c")))
    assert code == 1
    assert doc["crash"]["signal"] == "SIGSEGV"
    assert any(g["kind"] == "InvalidRead" for g in doc["groups"])
    assert any("crashed" in n for n in doc["notes"])
    assert "Traceback" not in stderr


def test_massif_peak_as_a_flame_graph(tmp_path):
    require_tool("valgrind")
    flame = tmp_path / "peak.html"
    code, doc, _ = _memcheck(tmp_path, "--tool", "massif", "--flame", str(flame), "--",
                             str(_cc(tmp_path, FIX / "memcheck_leaky.c")))
    assert code == 0
    assert doc["massif"]["peak_bytes"] == 428
    assert "keep_forever" in flame.read_text()


def test_an_asan_log(tmp_path):
    program = _cc(tmp_path, FIX / "memcheck_leaky.c", "-fsanitize=address")
    run = subprocess.run([str(program)], capture_output=True, text=True, timeout=60,
                         check=False)
    log = tmp_path / "asan.log"
    log.write_text(run.stderr)
    code, doc, _ = _memcheck(tmp_path, "--asan-log", str(log))
    assert code == 1
    assert doc["groups"][0]["function"] == "keep_forever"
    assert doc["leak_summary"]["definitely_lost"] == 364


def test_bad_input_is_one_line(tmp_path):
    code, _, stderr = _memcheck(tmp_path, "--", str(tmp_path / "missing"))
    assert code == 3
    assert "no such command" in stderr
    code, _, stderr = _memcheck(tmp_path, "--asan-log", str(tmp_path / "none.log"))
    assert code == 2
    assert "no such file" in stderr
    code, _, stderr = _memcheck(tmp_path)
    assert code == 2
    assert "nothing to check" in stderr
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PATH": str(tmp_path)}
    (tmp_path / "prog").write_text("#!/bin/sh\n")
    (tmp_path / "prog").chmod(0o755)
    out = subprocess.run([sys.executable, "-m", "perflab", "memcheck", "--store",
                          str(tmp_path / "lab.db"), "--", str(tmp_path / "prog")],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert out.returncode == 3
    assert "valgrind" in out.stderr
    assert "apt-get install valgrind" in out.stderr
