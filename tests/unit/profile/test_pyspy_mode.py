"""py-spy reads a Python target without pausing it unless asked (``--blocking``): measured
with benchmarks/bench_profile_overhead.py, pausing cost the target ~6 % of its work per
CPU-second and biased the samples towards system calls; reading it as it runs cost nothing
measurable and tore no stack (docs/profile.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import perflab.profile
from perflab.cli import main
from perflab.errors import TargetError
from perflab.profile._capture import CaptureRequest
from perflab.profile._capture_pyspy import _argv
from perflab.profile._target import Target


class Stop(TargetError):
    """Raised by the fake capture: the request is what the test wanted."""


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[CaptureRequest]:
    seen: list[CaptureRequest] = []

    def fake_capture(req: CaptureRequest) -> None:
        seen.append(req)
        raise Stop("captured the request")

    monkeypatch.setattr(perflab.profile, "capture", fake_capture)  # the name the CLI calls
    return seen


@pytest.mark.parametrize(("flags", "nonblocking"), [
    ((), True), (("--blocking",), False), (("--nonblocking",), True),
    (("--native",), False),  # py-spy reads native frames only from a paused target
])
def test_perflab_profile_reads_python_without_pausing_it_by_default(asked, flags, nonblocking,
                                                                     capsys):
    rc = main(["profile", str(os.getpid()), "--backend", "py-spy", "-d", "1s", *flags])
    assert rc == Stop.exit_code
    assert "captured the request" in capsys.readouterr().err
    assert [r.nonblocking for r in asked] == [nonblocking]


def test_native_frames_without_pausing_is_refused(asked, capsys):
    rc = main(["profile", str(os.getpid()), "--backend", "py-spy", "-d", "1s", "--native",
               "--nonblocking"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "py-spy reads native frames only while the target is paused" in err
    assert "hint: drop --nonblocking" in err
    assert asked == []


def test_the_py_spy_command_line_follows_the_request():
    target = Target(42, ("python",), "/usr/bin/python3", "python")
    base = CaptureRequest(target=target, duration_s=1)
    assert "--nonblocking" not in _argv("py-spy", base, Path("out.txt"))
    nonblocking = CaptureRequest(target=target, duration_s=1, nonblocking=True)
    assert "--nonblocking" in _argv("py-spy", nonblocking, Path("out.txt"))
