"""``perflab leak`` on real services with planted leaks: a Go service leaking through a cache
(pprof), a Python service leaking through a module-level list (the debug agent's tracemalloc),
a C program leaking a record per request (bpftrace uprobes on libc's allocator).
Each leak is found with the planted function named first; with the leak switched off, nothing is
found. The watch is stored on a run (series, verdict event, report artifact)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from tests.conftest import require_root, require_tool

from perflab.store import Store

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "debug"
SCHEMA = json.loads((ROOT / "docs" / "schemas" / "leak.schema.json").read_text())
WATCH = ["-d", "15s", "-i", "1s", "--warmup", "2s"]
# The Go service's GC sawtooth has its floor tested once per period, and four floors are the
# fewest a trend test can call significant. Its garbage (not the leak) sets the GC's pace, so
# the period stays near a second; 30 s leaves room for a machine busy enough to slow it down.
GO_WATCH = ["-d", "30s", "-i", "1s", "--warmup", "2s"]


@pytest.fixture(scope="session")
def goleak(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = require_tool("go")
    work = tmp_path_factory.mktemp("goleak")
    shutil.copytree(FIXTURES / "goleak", work / "src")
    env = {**os.environ, "GOCACHE": str(work / "cache"), "GOPATH": str(work / "gopath"),
           "GOFLAGS": "", "GO111MODULE": "on", "CGO_ENABLED": "0", "GOPROXY": "off",
           "HOME": str(work)}
    binary = work / "goleak"
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=work / "src", env=env, check=True,
                   capture_output=True, timeout=240)
    return binary


def _start(argv: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("ready"), line
    return proc, line.split()[1]


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.communicate(timeout=30)


def _leak(store: Path, *args: str, watch: list[str] = WATCH) -> tuple[int, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-m", "perflab", "leak", *args, *watch, "--json",
                          "--store", str(store)], capture_output=True, text=True, env=env,
                         timeout=180, check=False)
    assert out.returncode in (0, 1), out.stderr
    doc = json.loads(out.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    return out.returncode, doc


def _why(doc: dict) -> dict:
    """What a verdict rests on, said when a test fails: the watch's reason and each series'."""
    return {"verdict": doc["verdict"], "reason": doc["reason"], "notes": doc["notes"],
            "ended_early": doc["ended_early"], "series": [
                {k: s.get(k) for k in ("name", "verdict", "reason", "slope_per_s", "p_value",
                                       "samples", "first", "last")} for s in doc["series"]]}


@pytest.mark.parametrize("leaking", [True, False])
def test_go_cache_leak(goleak, tmp_path, leaking):
    proc, port = _start([str(goleak), *([] if leaking else ["-no-leak"])])
    try:
        # with the leak on, the PID is found from the listening port
        pid = [] if leaking else ["--pid", str(proc.pid)]
        code, doc = _leak(tmp_path / "lab.db", f"http://127.0.0.1:{port}", *pid, watch=GO_WATCH)
    finally:
        _stop(proc)
    heap = next(s for s in doc["series"] if s["name"] == "heap_inuse")
    assert doc["target"]["pid"] == proc.pid
    if leaking:
        assert code == 1, _why(doc)
        assert doc["verdict"] == "leak"
        assert doc["sites"][0]["function"] == "main.cacheResponse"
        assert doc["sites"][0]["file"].endswith("main.go")
        assert doc["growth_mb_per_h"] > 0
        assert heap["verdict"] in ("leak", "not enough data")
    else:
        assert code == 0, _why(doc)
        assert doc["verdict"] == "no leak"
        assert "main.cacheResponse" not in [s["function"] for s in doc["sites"]]


@pytest.mark.parametrize("leaking", [True, False])
def test_python_module_list_leak(tmp_path, leaking):
    agents = tmp_path / "agents"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PERFLAB_DEBUG_DIR": str(agents)}
    proc, pid = _start([sys.executable, str(FIXTURES / "pyleak.py"),
                        *([] if leaking else ["--no-leak"])], env)
    os.environ["PERFLAB_DEBUG_DIR"] = str(agents)
    try:
        code, doc = _leak(tmp_path / "lab.db", pid)
    finally:
        del os.environ["PERFLAB_DEBUG_DIR"]
        _stop(proc)
    assert doc["site_source"] == "python tracemalloc (debug agent)"
    traced = next(s for s in doc["series"] if s["name"] == "traced")
    if leaking:
        assert code == 1
        assert doc["verdict"] == "leak"
        assert traced["verdict"] == "leak"
        top = doc["sites"][0]
        assert top["function"] == "remember_request"
        assert top["file"] == str(FIXTURES / "pyleak.py")
        assert top["objects_growth"] > 0
    else:
        assert code == 0, doc["reason"]
        assert doc["verdict"] == "no leak"
        assert "remember_request" not in [s["function"] for s in doc["sites"]]
    # stored on a run of its own: series, the verdict event, the report
    with Store.open(tmp_path / "lab.db") as store:
        run = store.run(doc["run"]["id"])
        assert run.kind == "leak"
        names = {s.name for s in store.series(run.id)}
        assert {"debug.leak.rss", "debug.leak.pss", "debug.leak.traced"} <= names
        events = [e for e in store.events(run.id) if e.kind == "debug.leak"]
        assert events[0].attrs["verdict"] == doc["verdict"]
        assert events[0].end_ns is not None
        arts = store.artifacts(run.id, "debug.leak")
        assert json.loads(store.artifact_data(arts[0].id))["verdict"] == doc["verdict"]


def test_a_process_without_an_agent_is_watched_by_rss_with_a_note(tmp_path):
    script = "import time; print('ready 0', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"),
               "PERFLAB_DEBUG_DIR": str(tmp_path / "none")}
        out = subprocess.run([sys.executable, "-m", "perflab", "leak", str(proc.pid), "-d", "2s",
                              "-i", "1s", "--warmup", "1ms", "--no-memray", "--json", "--store",
                              str(tmp_path / "lab.db")], capture_output=True, text=True,
                             env=env, timeout=120, check=False)
    finally:
        _stop(proc)
    doc = json.loads(out.stdout)
    assert doc["site_source"] is None
    assert doc["sites"] == []
    assert "no debug agent" in doc["notes"][0]
    assert doc["verdict"] == "not enough data"
    assert out.returncode == 0


def test_memray_attach_names_the_sites_of_a_python_process_without_an_agent(tmp_path):
    require_tool("gdb")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc, pid = _start([sys.executable, str(FIXTURES / "pyleak.py"), "--no-agent"], env)
    try:
        # attaching goes through gdb, which takes seconds (tens on a busy machine): a longer
        # watch than the agent's, so that a dozen snapshots come after the attach
        out = subprocess.run([sys.executable, "-m", "perflab", "leak", pid, "-d", "45s", "-i",
                              "2s", "--warmup", "2s", "--json", "--store",
                              str(tmp_path / "lab.db")], capture_output=True, text=True,
                             env={**env, "PERFLAB_DEBUG_DIR": str(tmp_path / "none")},
                             timeout=240, check=False)
    finally:
        _stop(proc)
    doc = json.loads(out.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["site_source"] == "memray attach", doc["notes"]
    assert doc["verdict"] == "leak"
    assert out.returncode == 1
    top = doc["sites"][0]
    assert top["function"] == "remember_request"
    assert top["file"] == str(FIXTURES / "pyleak.py")
    # the temporaries each request frees are not a growing site
    assert "handle" not in [s["function"] for s in doc["sites"]]


CLEAK = FIXTURES / "cleak.c"
NATIVE = "native malloc sampling (bpftrace uprobes on libc)"
MALLOC_LINE = 1 + CLEAK.read_text().splitlines().index("    char *record = malloc(RECORD);")


@pytest.fixture(scope="session")
def cleak(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = require_tool("gcc")
    binary = tmp_path_factory.mktemp("cleak") / "cleak"
    # -O2 as a release build is; frame pointers so that the uprobe's stack walk reaches main
    subprocess.run([gcc, "-O2", "-g", "-fno-omit-frame-pointer", "-o", str(binary),
                    str(CLEAK)], check=True, capture_output=True, timeout=120)
    return binary


@pytest.mark.root
@pytest.mark.uprobes
@pytest.mark.parametrize("leaking", [True, False])
def test_c_program_leak_named_by_malloc_uprobes(cleak, tmp_path, leaking):
    """The leaking function is ranked first, with its source line; the freed temporaries of
    ``handle_request`` (malloc, calloc, realloc) are not listed; with the leak off, nothing."""
    require_root("bpftrace uprobes")
    require_tool("bpftrace")
    proc, pid = _start([str(cleak), *([] if leaking else ["--no-leak"])])
    try:
        # bpftrace takes seconds to attach on a busy machine: a longer watch than pprof's
        code, doc = _leak(tmp_path / "lab.db", pid, watch=["-d", "30s", "-i", "1s", "--warmup",
                                                           "1s"])
    finally:
        _stop(proc)
    assert doc["site_source"] == NATIVE
    assert doc["snapshots"] >= 2, doc["notes"]
    functions = [s["function"] for s in doc["sites"]]
    assert "handle_request" not in functions
    if leaking:
        assert code == 1, (doc["reason"], [(x["name"], x["verdict"]) for x in doc["series"]])
        assert doc["verdict"] == "leak"
        top = doc["sites"][0]
        assert top["function"] == "remember_request"
        # the source line of the malloc, from the binary's debug information
        assert (top["file"], top["line"]) == (str(CLEAK), MALLOC_LINE)
        assert top["stack"][0] == f"remember_request ({cleak})"
        assert top["stack"][1].startswith("main ")
        assert top["objects_growth"] > 0
    else:
        assert code == 0, doc["reason"]
        assert "remember_request" not in functions


def test_c_program_without_bpftrace_keeps_the_trend_and_says_why(cleak, tmp_path):
    proc, pid = _start([str(cleak), "--no-leak"])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PATH": str(tmp_path / "empty")}
    try:
        out = subprocess.run([sys.executable, "-m", "perflab", "leak", pid, "-d", "2s", "-i",
                              "1s", "--warmup", "1ms", "--json", "--store",
                              str(tmp_path / "lab.db")], capture_output=True, text=True,
                             env=env, timeout=120, check=False)
    finally:
        _stop(proc)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["sites"] == []
    assert any("no native allocation sites" in n and "bpftrace" in n for n in doc["notes"])
    assert doc["series"][0]["name"] == "rss"
