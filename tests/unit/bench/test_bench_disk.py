"""perflab bench disk: fio's figures on a file that never outlives the run, and its refusals."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from tests._nobody import fork_as_nobody
from tests._schemas import validate
from tests.conftest import require_root

from perflab.bench import DiskJob, run_disk
from perflab.cli import main

_SMALL = ["--size", "4M", "-d", "0.3s"]


def _interrupt_after(seconds: float) -> object:
    """A ``wait`` that is Ctrl-C after ``seconds``."""
    def wait(stop: threading.Event, _: float) -> object:
        stop.wait(seconds)
        raise KeyboardInterrupt
    return wait


@pytest.mark.parametrize(("rw", "reads", "writes"), [
    ("randread", True, False), ("read", True, False), ("randwrite", False, True),
    ("write", False, True), ("randrw", True, True),
])
def test_json_in_fio_terms(rw: str, reads: bool, writes: bool, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "disk", str(tmp_path), "--rw", rw, "--iodepth", "2", *_SMALL,
                 "--json"]) == 0
    doc = validate(json.loads(capsys.readouterr().out), "bench-disk")
    assert doc["job"]["rw"] == rw
    assert doc["job"]["ioengine"] == "psync-threads"
    assert (doc["read"] is not None, doc["write"] is not None) == (reads, writes)
    for side in (doc["read"], doc["write"]):
        if side is None:
            continue
        assert side["ios"] > 0
        assert side["io_bytes"] == side["ios"] * 4096
        assert side["iops"] == pytest.approx(side["ios"] / doc["elapsed_s"])
        clat = side["clat_ns"]
        pct = [clat["percentile"][k] for k in ("50.000000", "90.000000", "99.000000",
                                               "99.900000")]
        assert clat["min"] <= pct[0] <= pct[1] <= pct[2] <= pct[3] <= clat["max"]
    assert list(tmp_path.iterdir()) == []  # the file never had a name


def test_direct_io_where_the_filesystem_has_it(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "disk", str(tmp_path), "--direct", *_SMALL, "--json"]) == 0
    doc = validate(json.loads(capsys.readouterr().out), "bench-disk")
    assert doc["direct_io"] is True
    assert doc["warnings"] == []


def test_without_direct_the_page_cache_is_named(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "a\x1b[2Jb"  # a hostile name is shown inert
    directory.mkdir()
    assert main(["bench", "disk", str(directory), *_SMALL]) == 0
    captured = capsys.readouterr()
    assert "\x1b" not in captured.err
    assert "a?[2Jb" in captured.err
    assert "IOPS=" in captured.out
    assert "p99.9=" in captured.out
    assert "page cache" in captured.err


def test_a_filesystem_without_o_direct_says_the_page_cache_is_in_the_way(tmp_path: Path) -> None:
    require_root("mounting a ramfs, which has no O_DIRECT")
    mnt = tmp_path / "ramfs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "ramfs", "ramfs", str(mnt)], check=True)
    try:
        doc = run_disk(DiskJob(mnt, size=1 << 20, runtime_s=0.2, direct=True))
        assert doc["direct_io"] is False
        assert any("page cache is in the way" in w for w in doc["warnings"])
        assert doc["read"] is not None
        assert list(mnt.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def _without_o_tmpfile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A filesystem without O_TMPFILE, as some FUSE and network ones are."""
    real_open = os.open

    def no_tmpfile(path: str, flags: int, *args: int) -> int:
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_tmpfile)


def test_without_o_tmpfile_the_file_is_unlinked_at_once(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _without_o_tmpfile(monkeypatch)
    seen: list[list[Path]] = []
    doc = run_disk(DiskJob(tmp_path, rw="randwrite", size=1 << 20, runtime_s=0.2),
                   on_start=lambda: seen.append(list(tmp_path.iterdir())))
    assert seen == [[]]  # already gone while the job ran
    assert doc["write"] is not None


def test_ctrl_c_keeps_what_was_measured_and_removes_the_file(tmp_path: Path) -> None:
    job = DiskJob(tmp_path, rw="randrw", iodepth=2, size=1 << 20, runtime_s=3600)
    doc = run_disk(job, wait=_interrupt_after(0.2))  # type: ignore[arg-type]
    assert doc["interrupted"] is True
    assert doc["elapsed_s"] < 3600
    assert doc["read"] is not None
    assert doc["read"]["ios"] > 0
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_on_the_command_line_prints_then_exits_130(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import perflab.bench._disk as disk  # noqa: PLC0415

    monkeypatch.setattr(disk, "_wait", _interrupt_after(0.2))
    assert main(["bench", "disk", str(tmp_path), "--size", "1M", "-d", "1h", "--json"]) == 130
    captured = capsys.readouterr()
    assert validate(json.loads(captured.out), "bench-disk")["interrupted"] is True
    assert "interrupted" in captured.err


@pytest.mark.parametrize(("argv", "words"), [
    (["--bs", "1000"], "invalid block size 1000"),
    (["--bs", "128M"], "invalid block size 134217728"),
    (["--bs", "four"], "--bs: invalid size 'four'"),
    (["--size", "2k"], "smaller than the block size"),
    (["--size", "100T"], "not enough free space"),
    (["-d", "0"], "--duration must be longer than zero"),
    (["--rw", "trim"], "Invalid value for '--rw'"),
])
def test_refusals(argv: list[str], words: str, tmp_path: Path,
                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "disk", str(tmp_path), *argv]) == 2
    assert words in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_missing_directory_is_refused(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "disk", str(tmp_path / "nope"), *_SMALL]) == 2
    err = capsys.readouterr().err
    assert "no directory" in err
    assert "hint:" in err


@pytest.mark.parametrize("tmpfile", [True, False])
def test_a_directory_it_cannot_write_is_a_clear_error(
        tmpfile: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    require_root("running the command as nobody")
    if not tmpfile:
        _without_o_tmpfile(monkeypatch)
    directory = Path(tempfile.mkdtemp(prefix="perflab-disk-ro-", dir="/tmp"))
    try:
        directory.chmod(0o755)  # nobody may look, not write
        code, _, err = fork_as_nobody(["bench", "disk", str(directory), *_SMALL])
    finally:
        directory.rmdir()
    assert code == 3
    assert "cannot create a file in" in err
    assert "Permission denied" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kwargs", [
    {"iodepth": 0}, {"rwmixread": 101}, {"runtime_s": 0.0}, {"rw": "trim"},
])
def test_a_job_is_validated_when_made(kwargs: dict[str, object], tmp_path: Path) -> None:
    from perflab.errors import InvalidValue  # noqa: PLC0415

    with pytest.raises(InvalidValue):
        DiskJob(tmp_path, **kwargs)  # type: ignore[arg-type]
