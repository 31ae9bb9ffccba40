"""Every row of `perflab pprof top` equals `go tool pprof -top` on real Go profiles."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from tests._schemas import validate

from perflab.cli import main
from perflab.profile import Frame, Profile, SampleType, read_profile, write_profile

pytestmark = pytest.mark.integration

_ROW = re.compile(r"^\s*(\S+)\s+(\S+%)\s+(\S+%)\s+(\S+)\s+(\S+%)\s+(.*?)\s*$")

CPU_OPTIONS = [
    (), ("-cum",), ("-nodefraction", "0.05"), ("-nodecount", "3"), ("-focus", "fib"),
    ("-ignore", "fib"), ("-hide", "main.round"), ("-focus", "warm", "-cum"),
    ("-sample_index", "samples"),
]
HEAP_OPTIONS = [
    (), ("-sample_index", "alloc_space"), ("-sample_index", "alloc_objects", "-cum"),
    ("-sample_index", "inuse_objects"), ("-focus", "allocSmall"), ("-nodefraction", "0"),
]


def parse_top(text: str) -> tuple[list[str], list[tuple[str, ...]]]:
    """(header lines, rows) of a -top report; a row is (flat, flat%, sum%, cum, cum%, name)."""
    lines = text.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.split() == ["flat", "flat%", "sum%",
                                                                 "cum", "cum%"])
    rows = []
    for ln in lines[at + 1:]:
        m = _ROW.match(ln)
        assert m, ln
        rows.append(m.groups())
    return lines[:at], rows


def ours(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["pprof", "top", *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("options", CPU_OPTIONS, ids=lambda o: " ".join(o) or "default")
def test_cpu_top_rows_equal_go_tool_pprof(go_workload, go_profiles, capsys, options):
    theirs = parse_top(go_workload.pprof_top(go_profiles["cpu"], *options))
    mine = parse_top(ours(capsys, *options, str(go_profiles["cpu"])))
    assert len(theirs[1]) >= 3
    assert mine[1] == theirs[1]
    assert mine[0] == theirs[0]  # the header too: type, duration, totals, dropped nodes


@pytest.mark.parametrize("options", HEAP_OPTIONS, ids=lambda o: " ".join(o) or "default")
def test_heap_top_rows_equal_go_tool_pprof(go_workload, go_profiles, capsys, options):
    theirs = parse_top(go_workload.pprof_top(go_profiles["heap"], *options))
    mine = parse_top(ours(capsys, *options, str(go_profiles["heap"])))
    assert any(r[5] == "main.allocSmall" for r in theirs[1])
    assert mine == theirs


@pytest.mark.parametrize("kind", ["cpu", "heap"])
def test_profile_we_write_gives_go_tool_pprof_the_same_top(go_workload, go_profiles, tmp_path,
                                                           kind):
    written = tmp_path / f"{kind}.pb.gz"
    write_profile(read_profile(go_profiles[kind]), written)
    for options in ((), ("-cum",), ("-sample_index", "0")):
        original = parse_top(go_workload.pprof_top(go_profiles[kind], *options))
        again = parse_top(go_workload.pprof_top(written, *options))
        assert again == original


def test_peek_equals_go_tool_pprof(go_workload, go_profiles, capsys):
    regex = "main.(warmLoop|fib)"
    theirs = subprocess.run([go_workload.go, "tool", "pprof", "-peek", regex,
                             str(go_profiles["cpu"])], env=go_workload.env, check=True,
                            capture_output=True, text=True).stdout
    assert main(["pprof", "peek", str(go_profiles["cpu"]), regex]) == 0
    assert capsys.readouterr().out == theirs


def test_top_json_validates_and_agrees_with_text(go_profiles, capsys):
    text_rows = parse_top(ours(capsys, str(go_profiles["cpu"])))[1]
    doc = json.loads(ours(capsys, "--json", str(go_profiles["cpu"])))
    validate(doc, "profile-pprof-top")
    assert [r["name"] for r in doc["rows"]] == [r[5].removesuffix(" (inline)") for r in text_rows]
    assert main(["pprof", "peek", "--json", str(go_profiles["cpu"]), "main"]) == 0
    peek_doc = json.loads(capsys.readouterr().out)
    validate(peek_doc, "profile-pprof-peek")


def test_top_of_a_live_net_http_pprof_server(go_workload, capsys):
    """`pprof top URL` fetches from net/http/pprof: heap at once, CPU over ?seconds=."""
    proc = subprocess.Popen([str(go_workload.binary), "serve", "127.0.0.1:0"],
                            env=go_workload.env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        addr = proc.stdout.readline().strip()
        assert main(["pprof", "top", f"http://{addr}/debug/pprof/heap"]) == 0
        heap = capsys.readouterr().out
        assert "Type: inuse_space" in heap
        assert main(["pprof", "top", "--seconds", "1", f"http://{addr}/debug/pprof/profile"]) == 0
        cpu = capsys.readouterr().out
        assert "Type: cpu" in cpu
        assert "main.hotLoop" in cpu
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    # the server is gone: a clear error, exit 3
    assert main(["pprof", "top", f"http://{addr}/debug/pprof/heap"]) == 3
    assert "cannot fetch" in capsys.readouterr().err


def test_truncated_go_profile_is_a_clear_error(go_profiles, tmp_path):
    data = go_profiles["cpu"].read_bytes()
    cut = tmp_path / "cut.pb.gz"
    cut.write_bytes(data[: len(data) // 2])
    out = subprocess.run([sys.executable, "-m", "perflab", "pprof", "top", str(cut)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert "corrupt or truncated" in out.stderr
    assert "Traceback" not in out.stderr


def test_names_pprof_would_demangle_survive_the_round_trip(go_workload, tmp_path, capsys):
    """Python's <module> and demangled C++ names read the same in go tool pprof as in ours."""
    prof = Profile(sample_types=[SampleType("samples", "count")])
    prof.add([Frame("std::vector<int>::push_back(int const&)"), Frame("<module>")], [5])
    prof.add([Frame("inner", "spin.py", 4), Frame("<module>", "spin.py", 12)], [7])
    path = tmp_path / "names.pb.gz"
    write_profile(prof, path)
    theirs = parse_top(go_workload.pprof_top(path))
    assert {r[5] for r in theirs[1]} == {"<module>", "inner",
                                         "std::vector<int>::push_back(int const&)"}
    assert parse_top(ours(capsys, str(path)))[1] == theirs[1]
