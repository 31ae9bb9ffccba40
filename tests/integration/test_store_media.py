"""The store on real media (issue 11, problems 6 and 8): a tmpfs that fills up under
`perflab record`, and a store on a read-only mount. Mounting needs root: in CI (CI=true) these
tests fail without it rather than skip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import IN_CI

pytestmark = pytest.mark.integration

PERFLAB = [sys.executable, "-m", "perflab"]


def _need(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}: required in CI")
    pytest.skip(reason)


def perflab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PERFLAB, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of our own (unmounted afterwards)."""
    if os.geteuid() != 0:
        _need("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs",
                           str(mnt)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        _need(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_record_filling_a_real_disk_says_disk_full_and_keeps_what_it_committed(tmpfs):
    store = tmpfs / "perflab.db"
    filler = tmpfs / "filler"
    filler.write_bytes(b"\0" * (1024 * 1024))  # leave the recording about 1 MiB
    done = perflab("record", "-i", "50ms", "-d", "300s", "--store", str(store))
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith(f"perflab: error: disk full: the store {store} cannot grow")
    assert lines[1].startswith("  hint: free some space")
    assert len(lines) == 2
    runs = perflab("runs", "--store", str(store), "--json")
    assert runs.returncode == 0, runs.stderr
    (run,) = json.loads(runs.stdout)["runs"]
    # `failed` when its end could still be written; with no byte left, `interrupted`
    assert run["status"] in ("failed", "interrupted")
    assert run["samples"] > 0  # every committed tick is kept
    assert run["ended_ns"] is not None
    check = perflab("store", "check", "--store", str(store))
    assert check.returncode == 0, check.stdout + check.stderr  # full, not damaged
    filler.unlink()  # space freed: the same file records again
    again = perflab("record", "-i", "100ms", "-d", "500ms", "--store", str(store))
    assert again.returncode == 0, again.stderr
    assert perflab("store", "check", "--store", str(store)).returncode == 0


def test_reading_commands_work_on_a_read_only_mount_and_record_says_why_not(tmpfs, tmp_path):
    store = tmpfs / "perflab.db"
    rec = perflab("record", "-i", "100ms", "-d", "500ms", "--name", "before", "--store",
                  str(store))
    assert rec.returncode == 0, rec.stderr
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    before = sorted(p.name for p in tmpfs.iterdir())
    for argv in (["runs"], ["show", "before"], ["query", "before", "system.load1"],
                 ["report", "before", "-o", str(tmp_path / "r.html")], ["store", "check"]):
        done = perflab(*argv, "--store", str(store))
        assert done.returncode == 0, (argv, done.stderr)
    assert (tmp_path / "r.html").stat().st_size > 0
    done = perflab("record", "-d", "1s", "--store", str(store))
    assert done.returncode == 2
    assert done.stderr.startswith(f"perflab: error: the store {store} is read-only")
    assert "hint:" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmpfs.iterdir()) == before
