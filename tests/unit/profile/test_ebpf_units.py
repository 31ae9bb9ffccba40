"""Pure parts of the eBPF tools: key splitting, histograms, programs, error mapping."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import perflab.ebpf
from perflab.ebpf import _bpftrace, ensure_tracefs, require_root, split_key
from perflab.ebpf._bpftrace import explain_failure
from perflab.ebpf._hist import Log2Hist
from perflab.ebpf._tools import (
    SyscallRow,
    SyscallsResult,
    frame_name,
    libcalls_program,
    syscall_names,
)
from perflab.errors import AccessDenied, TargetError


def test_split_key_handles_stacks_empty_stacks_and_scalars():
    assert split_key("\n\tA+1\n\tB+2\n,\n\tK1\n,python") == [["A+1", "B+2"], ["K1"], ["python"]]
    assert split_key(",\n\tK1\n,python") == [[], ["K1"], ["python"]]
    assert split_key("12,read") == [["12"], ["read"]]


def test_log2_hist_renders_like_bcc_and_has_quantiles():
    h = Log2Hist.from_bpftrace([{"min": 0, "max": 0, "count": 0}, {"min": 1, "max": 1, "count": 2},
                                {"min": 2, "max": 3, "count": 4}, {"min": 4, "max": 7, "count": 0},
                                {"min": 8, "max": 15, "count": 2}])
    assert h.render("usecs") == (
        "     usecs               : count     distribution\n"
        "         1 -> 1          : 2        |********************                    |\n"
        "         2 -> 3          : 4        |****************************************|\n"
        "         4 -> 7          : 0        |                                        |\n"
        "         8 -> 15         : 2        |********************                    |\n")
    assert (h.count, h.quantile(0.5), h.quantile(0.99)) == (8, 3, 15)
    assert "(no events)" in Log2Hist(()).render("usecs")


def test_libcalls_never_attaches_return_probes_to_go_code():
    prog = libcalls_program(42, [("/usr/lib/libc.so.6", "malloc"), ("/srv/gosvc", "main.f")],
                            [True, False], 2.0)
    assert "uretprobe:/usr/lib/libc.so.6:malloc" in prog
    assert "uprobe:/srv/gosvc:main.f" in prog
    assert "uretprobe:/srv/gosvc" not in prog
    assert "interval:ms:2000" in prog


def test_frame_names_and_syscall_table():
    assert frame_name("ffffffff8220043e do_nanosleep+94") == "do_nanosleep"
    assert frame_name("7f12 0x7f12 ([unknown])") == "7f12"
    names = syscall_names()
    assert names[0] == "read"
    assert names[110] == "getppid"


def test_not_root_is_access_denied_naming_the_capabilities(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(AccessDenied) as err:
        require_root("ebpf syscalls")
    assert "CAP_BPF" in err.value.message
    assert "sudo" in (err.value.hint or "")


def test_tracefs_missing_without_root_says_how_to_mount(monkeypatch, tmp_path):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(AccessDenied, match="tracefs is not mounted"):
        ensure_tracefs(tmp_path / "tracing")
    (tmp_path / "ok" / "events").mkdir(parents=True)
    assert ensure_tracefs(tmp_path / "ok") is None


@pytest.mark.parametrize(("stderr", "kind", "text"), [
    ("stdin:1:1-30: ERROR: tracepoint not found: sched:sched_switch", TargetError, "lacks a probe"),
    ("ERROR: bpf_prog_load: Operation not permitted", AccessDenied, "refused"),
    ("ERROR: something else entirely", TargetError, "bpftrace failed"),
])
def test_bpftrace_failures_name_the_cause(stderr, kind, text):
    err = explain_failure("ERROR: Unknown error -1: couldn't set RLIMIT_MEMLOCK\n" + stderr, "x")
    assert type(err) is kind
    assert text in err.message
    assert "RLIMIT" not in err.message


def test_syscall_table_file_is_packaged():
    assert (Path(perflab.ebpf.__file__).parent / "syscalls_x86_64.json").is_file()


def test_syscalls_table_names_its_time_wall_clock_not_strace_seconds():
    """Bug 7: the column said "seconds" as strace -c does, whose seconds are system CPU time;
    ours are wall-clock time inside the call (strace -c -w), and the table says so."""
    row = SyscallRow("clock_nanosleep", 230, 10, 0, 500_000_000, Log2Hist(()))
    lines = SyscallsResult(None, 1.0, [row]).render(hists=0).splitlines()
    assert lines[0] == ("time is wall-clock time inside each call, as `strace -c -w` sums it "
                        "(plain `strace -c` shows system CPU time)")
    assert lines[1] == "% wall   wall secs  usecs/call     calls    errors syscall"
    assert lines[3] == "100.00    0.500000       50000        10           clock_nanosleep"
    assert "seconds" not in lines[1]


FAKE_BPFTRACE = """#!{python}
import json, signal, sys, time
signal.signal(signal.SIGINT, {on_sigint})
time.sleep({begin_s})
print(json.dumps({{"type": "printf", "data": "perflab-begun\\\\n"}}), flush=True)
time.sleep({run_s})
print('{{"type": "map", "data": {{"@off": {{"a\\tb\\x01,c": 5}}}}}}', flush=True)
print('{{"type": "map", "data": {{"@lost": ', flush=True)
"""


@pytest.fixture
def fake_bpftrace(tmp_path, monkeypatch):
    """A bpftrace on PATH that begins after ``begin_s``, runs ``run_s`` and prints one
    readable map (a raw control character in its key) and one cut line."""
    def make(begin_s: float, run_s: float, *, deaf: bool = False) -> None:
        exe = tmp_path / "bpftrace"
        # as bpftrace: print the maps and go; deaf, as one still compiling: ignore it
        on_sigint = "signal.SIG_IGN" if deaf else "lambda *_: sys.exit(0)"
        exe.write_text(FAKE_BPFTRACE.format(python=sys.executable, begin_s=begin_s,
                                            run_s=run_s, on_sigint=on_sigint))
        exe.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
        monkeypatch.setattr(_bpftrace, "require_root", lambda what: None)
        monkeypatch.setattr(_bpftrace, "ensure_tracefs", lambda: None)
    return make


def test_the_watchdog_counts_from_bpftraces_begin_not_from_its_start(fake_bpftrace):
    # compiling takes longer than the whole window: a deadline from the start cut it off
    fake_bpftrace(begin_s=1.5, run_s=0.2)
    out = _bpftrace.run_bpftrace("", what="ebpf offcpu", duration_s=0.1, grace_s=0.5)
    assert out.maps == {"@off": {"a\tb\x01,c": 5}}
    assert not out.interrupted
    assert len(out.notes) == 1
    assert "could not read" in out.notes[0]
    assert "what it held is missing" in out.notes[0]


def test_a_bpftrace_that_never_begins_is_an_error_not_an_empty_result(fake_bpftrace,
                                                                     monkeypatch):
    fake_bpftrace(begin_s=30, run_s=0)
    monkeypatch.setattr(_bpftrace, "START_LIMIT_S", 0.5)
    with pytest.raises(TargetError, match=r"had not begun tracing after 0\.5 s"):
        _bpftrace.run_bpftrace("", what="ebpf offcpu", duration_s=0.1, grace_s=0.1)


def test_a_bpftrace_deaf_to_sigint_is_killed_and_the_error_is_that_it_never_began(
        fake_bpftrace, monkeypatch):
    """One still compiling may not answer SIGINT: nothing waits on it past STOP_GRACE_S."""
    fake_bpftrace(begin_s=300, run_s=0, deaf=True)
    monkeypatch.setattr(_bpftrace, "START_LIMIT_S", 0.5)
    monkeypatch.setattr(_bpftrace, "STOP_GRACE_S", 0.5)
    with pytest.raises(TargetError, match=r"had not begun tracing after 0\.5 s"):
        _bpftrace.run_bpftrace("", what="ebpf offcpu", duration_s=0.1, grace_s=0.1)
