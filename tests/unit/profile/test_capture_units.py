"""Capture decisions without running a profiler: backend choice, programs, frames, targets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import wait_for

from perflab.ebpf import BpftraceOutput
from perflab.errors import AccessDenied, InvalidValue, NoSuchProcess, TargetError
from perflab.profile._capture import CaptureRequest, choose_backend
from perflab.profile._capture_bpf import capture_bpftrace, program
from perflab.profile._capture_perf import explain_failure, pid_alive
from perflab.profile._capture_pyspy import _explain as pyspy_explain
from perflab.profile._stackline import parse_frame
from perflab.profile._target import Target, is_go_binary, target_of_command


def req(lang: str = "native", **kw) -> CaptureRequest:
    pid = kw.pop("pid", 42)
    return CaptureRequest(target=Target(pid, ("x",), "/bin/x", lang), duration_s=5, **kw)


def test_auto_picks_by_target_and_mode_and_says_why():
    assert choose_backend(req("python"))[0] == "py-spy"
    assert choose_backend(req("go"))[0] == "perf"
    assert "frame pointers" in choose_backend(req("go"))[1]
    assert choose_backend(req(mode="offcpu"))[0] == "bpftrace"
    assert choose_backend(req(mode="wall"))[0] == "bpftrace"
    assert choose_backend(req("python", mode="wall"))[1].endswith("(--idle for wall-clock time)")
    url = CaptureRequest(target=None, duration_s=5, pprof_url="http://x:1")
    assert choose_backend(url)[0] == "pprof"


@pytest.mark.parametrize(("backend", "mode", "lang"), [
    ("perf", "offcpu", "native"), ("py-spy", "cpu", "go"), ("pprof", "cpu", "native"),
    ("py-spy", "offcpu", "python")])
def test_impossible_combinations_are_usage_errors(backend, mode, lang):
    with pytest.raises(InvalidValue):
        choose_backend(req(lang, backend=backend, mode=mode))


def test_bpftrace_program_uses_no_uprobes_and_stops_on_exit_or_duration():
    prog = program(req(mode="wall", rate_hz=99))
    assert "profile:hz:99 /pid == 42/" in prog
    assert "sched:sched_switch" in prog
    assert "interval:ms:5000" in prog
    assert "sched_process_exit /pid == 42 && tid == 42/" in prog
    assert "uprobe" not in prog
    assert "uretprobe" not in prog
    cmd = program(CaptureRequest(target=Target(None, ("a",), "/bin/a", "go"), duration_s=None))
    assert "/pid == cpid/" in cmd
    assert "interval" not in cmd


def test_offcpu_program_takes_stacks_at_every_switch_or_a_random_share():
    exact = program(req(mode="offcpu"))
    assert "if (pid == 42) {" in exact
    assert "rand" not in exact
    sampled = program(req(mode="offcpu", offcpu_sample=8))
    assert "if (pid == 42 && rand % 8 == 0) {" in sampled
    assert "rand % 8" in program(req(mode="wall", offcpu_sample=8))
    assert "rand" not in program(req(mode="cpu", offcpu_sample=8))
    with pytest.raises(InvalidValue, match="offcpu-sample 0"):
        program(req(mode="offcpu", offcpu_sample=0))


# two off-CPU stacks as bpftrace prints them: user frames, then kernel frames
_BLOCKED_READ = ("\n\t7f00000010 __libc_read+16 (/usr/lib/libc.so.6)\n\t4010 main+9 (/bin/x)\n,"
                 "\n\tffffffff81000100 schedule+32 ([kernel.kallsyms])\n"
                 "\tffffffff81000200 pipe_read+64 ([kernel.kallsyms])\n")
_NAP = ("\n\t7f00000020 clock_nanosleep+32 (/usr/lib/libc.so.6)\n,"
        "\n\tffffffff81000100 schedule+32 ([kernel.kallsyms])\n")


@pytest.mark.parametrize("share", [1, 8])
def test_sampled_offcpu_time_is_scaled_and_said_to_be_an_estimate(monkeypatch, share):
    out = BpftraceOutput(maps={"@off": {_BLOCKED_READ: 3_000_000, _NAP: 1_000_000}})
    monkeypatch.setattr("perflab.profile._capture_bpf.run_bpftrace", lambda *_a, **_k: out)
    monkeypatch.setattr("perflab.profile._capture_bpf.read_maps", lambda _pid: [])
    monkeypatch.setattr("perflab.profile._capture_bpf.pid_alive", lambda _pid: True)
    result = capture_bpftrace(req(mode="offcpu", offcpu_sample=share))
    prof = result.profile
    assert prof.total(1) == 4_000_000 * share
    # each stack keeps its blocking site, kernel frames leaf first, then the user's
    stacks = {tuple(prof.frames[i].name for i in s.stack): s.values[1] for s in prof.samples}
    assert stacks == {("schedule", "pipe_read", "__libc_read", "main"): 3_000_000 * share,
                      ("schedule", "clock_nanosleep"): 1_000_000 * share}
    estimate = [n for n in result.notes if "estimate" in n]
    if share == 1:
        assert not estimate
        assert not any("estimate" in c for c in prof.comments)
    else:
        assert estimate == [("off-CPU time is an estimate: stacks were taken at 1 in 8 of the "
                            "target's switch-outs (chosen at random) and each sampled interval "
                            "counted 8 times")]
        assert any("1 in 8" in c for c in prof.comments)


def test_stack_lines_of_perf_and_bpftrace():
    f = parse_frame("7f5fe0faf833 _PyObject_Malloc+19 (/usr/lib/libpython3.11.so.1.0)")
    assert f is not None
    assert (f.function, f.module) == ("_PyObject_Malloc", "/usr/lib/libpython3.11.so.1.0")
    u = parse_frame("7f5fe1257ce0 0x7f5fe1257ce0 ([unknown])")
    assert u is not None
    assert (u.function, u.address, u.name) == ("", 0x7F5FE1257CE0, "0x7f5fe1257ce0")
    s = parse_frame("1a2b [unknown] (/opt/stripped)")
    assert s is not None
    assert s.name == "stripped+0x1a2b"


def test_targets(tmp_path):
    assert target_of_command([sys.executable, "-c", "pass"]).language == "python"
    assert not is_go_binary(sys.executable)
    fake = tmp_path / "gobin"
    fake.write_bytes(b"\x7fELF" + b"\0" * 100 + b"\xff Go buildinf:" + b"\0" * 10)
    assert is_go_binary(str(fake))
    with pytest.raises(InvalidValue, match="command not found"):
        target_of_command(["definitely-not-a-command-xyz"])


def test_perf_permission_error_names_the_sysctl():
    err = explain_failure("Error: ... perf_event_paranoid setting is 4 ...", 42)
    assert isinstance(err, AccessDenied)
    assert "perf_event_paranoid" in str(err)


@pytest.mark.parametrize("explain", [explain_failure, pyspy_explain])
def test_a_profilers_failure_names_a_gone_target_else_its_first_line(explain):
    """perf and py-spy read their failures alike: the target gone is NoSuchProcess (exit 3),
    anything else the tool's first line of output."""
    gone = 4_194_305  # above the kernel's largest pid_max: no process has it
    assert isinstance(explain("", gone), NoSuchProcess)
    assert isinstance(explain("error: No such process (os error 3)", os.getpid()), NoSuchProcess)
    err = explain("\n  something broke\nmore\n", os.getpid())
    assert isinstance(err, TargetError)
    assert "failed: something broke" in str(err)


def test_a_profiling_target_is_alive_until_it_exits_even_unreaped():
    """A zombie (exited, not yet reaped by its parent) has nothing left to profile."""
    assert pid_alive(os.getpid())
    assert not pid_alive(4_194_305)
    assert not pid_alive(2**70)  # os.kill raised OverflowError for this
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        wait_for(lambda: Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                 == "Z", what="the child to exit")
        assert not pid_alive(child.pid)
    finally:
        child.wait()
