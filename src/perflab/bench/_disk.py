"""``perflab bench disk``: fio-style random and sequential I/O at a queue depth, with
completion-latency percentiles.

The engine is fio's ``psync`` with ``numjobs=N --thread``: N threads, each with one synchronous
``os.preadv``/``os.pwritev`` in flight. Both calls release the GIL, so N requests are queued in
the kernel at once, which is what ``--iodepth N`` means here (io_uring and libaio are not
reachable from the standard library; an asynchronous engine queues N from one thread, which
costs less CPU but puts the same depth on the device). A request's latency is its completion
latency (fio's ``clat``): the time the blocking call took, from ``time.perf_counter_ns``.

The test file lives in the directory given and never outlives the run: it is opened with
``O_TMPFILE`` (an unnamed inode, freed when closed, even after ``kill -9``) or, where the
filesystem has no ``O_TMPFILE``, created and unlinked at once. It is laid out whole first (as fio
does), flushed, and its pages dropped from the page cache (``POSIX_FADV_DONTNEED``, fio's
``invalidate``). With ``--direct`` it is then switched to ``O_DIRECT``; a filesystem that refuses
``O_DIRECT`` leaves the page cache in the way, and the result says so.

Latencies go into per-thread HDR histograms (``perflab.load.Histogram``, the load test's), here
counting nanoseconds rather than microseconds: 3 significant digits from 1 ns to 3.6 s (a slower
request counts as 3.6 s), merged at the end.
"""

from __future__ import annotations

import errno
import itertools
import mmap
import os
import random
import tempfile
import threading
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from perflab.errors import InvalidValue, NotFound, TargetError
from perflab.load import Histogram

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from perflab.bench._contracts import BenchDiskDoc, DiskClatDoc, DiskSideDoc

DiskMode = Literal["read", "write", "randread", "randwrite", "randrw"]
MODES: tuple[DiskMode, ...] = ("randread", "randwrite", "read", "write", "randrw")
ENGINE: Literal["psync-threads"] = "psync-threads"
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
_LAYOUT_CHUNK = 1024 * 1024
_FREE_MARGIN = 64 * 1024 * 1024  # what the filesystem keeps free beside the test file
_FLUSH_EVERY = 65536  # latencies buffered per thread before they go into its histogram
_SECTOR = 512
_MAX_BS = 64 * 1024 * 1024  # a buffer per request in flight: at most 16 GiB at depth 256


@dataclass(frozen=True, slots=True)
class DiskJob:
    """One job, as fio's options name it."""

    directory: Path
    rw: DiskMode = "randread"
    bs: int = 4096
    iodepth: int = 1
    size: int = 256 * 1024 * 1024
    runtime_s: float = 10.0
    direct: bool = False
    rwmixread: int = 50

    def __post_init__(self) -> None:
        if self.rw not in MODES:
            raise InvalidValue(f"invalid --rw {self.rw!r}", hint=f"one of {', '.join(MODES)}")
        if self.bs <= 0 or self.bs % _SECTOR or self.bs > _MAX_BS:
            raise InvalidValue(f"invalid block size {self.bs}",
                               hint="a multiple of 512 bytes up to 64 MiB, like 4k or 1M")
        if self.size < self.bs:
            raise InvalidValue(f"--size {self.size} is smaller than the block size {self.bs}",
                               hint="give a size of at least one block, like 256M")
        if not 1 <= self.iodepth <= 256:  # a thread per request in flight
            raise InvalidValue(f"invalid --iodepth {self.iodepth}", hint="between 1 and 256")
        if self.runtime_s <= 0:
            raise InvalidValue("the run time must be longer than zero", hint="like -d 10s")
        if not 0 <= self.rwmixread <= 100:
            raise InvalidValue(f"invalid --rwmixread {self.rwmixread}", hint="0 to 100 (%)")

    @property
    def blocks(self) -> int:
        return self.size // self.bs


@dataclass(slots=True)
class _Side:
    """What one thread measured for reads or for writes."""

    hist: Histogram = field(default_factory=Histogram)
    pending: array[int] = field(default_factory=lambda: array("q"))
    ios: int = 0

    def add(self, latency_ns: int) -> None:
        self.pending.append(latency_ns)
        self.ios += 1
        if len(self.pending) >= _FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        # the histogram's unit is nominally the microsecond; here every unit is a nanosecond
        self.hist.record_many(self.pending)
        self.pending = array("q")


@dataclass(slots=True)
class _Worker:
    read: _Side = field(default_factory=_Side)
    write: _Side = field(default_factory=_Side)
    error: OSError | None = None


def _check_directory(directory: Path, size: int) -> None:
    """A directory with room for the file (a filesystem of no declared size, ramfs or some
    FUSE ones, has zero blocks: it is not checked)."""
    if not directory.is_dir():
        raise NotFound(f"no directory {str(directory)!r}",
                       hint="give a directory on the filesystem to test; the file is made there")
    try:
        st = os.statvfs(directory)
    except OSError as exc:
        raise TargetError(f"cannot inspect {str(directory)!r}: {exc.strerror}") from exc
    free = st.f_bavail * st.f_frsize
    if st.f_blocks and free < size + _FREE_MARGIN:
        raise InvalidValue(
            f"not enough free space in {str(directory)!r}: {free // 2**20} MiB free, the test "
            f"needs {size // 2**20} MiB and leaves {_FREE_MARGIN // 2**20} MiB",
            hint="give a smaller --size or another directory")


def _open_unnamed(directory: Path) -> int:
    """An unnamed file in ``directory`` (see the module's docstring)."""
    flags = os.O_RDWR | os.O_CLOEXEC
    try:
        try:
            return os.open(directory, os.O_TMPFILE | flags, 0o600)
        except OSError as exc:
            if exc.errno not in {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL}:
                raise
        fd, name = tempfile.mkstemp(prefix=".perflab-disk-", dir=directory)
        Path(name).unlink()
    except OSError as exc:
        raise TargetError(f"cannot create a file in {str(directory)!r}: {exc.strerror}",
                          hint="give a directory you can write to") from exc
    return fd


def _lay_out(fd: int, size: int) -> None:
    """Write the whole file (random bytes: a compressing or deduplicating device sees real
    data), flush it and drop it from the page cache."""
    chunk = os.urandom(_LAYOUT_CHUNK)
    done = 0
    while done < size:
        done += os.pwrite(fd, chunk[:min(_LAYOUT_CHUNK, size - done)], done)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, size, os.POSIX_FADV_DONTNEED)


def _set_direct(fd: int) -> bool:
    """O_DIRECT on the open file; False where the filesystem refuses it."""
    import fcntl  # noqa: PLC0415  # POSIX only, like the rest of this module

    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return False
    return True


def _offsets(job: DiskJob, seed: int, cursor: Iterator[int]) -> Iterator[int]:
    """Byte offsets: uniform random blocks, or the next block of the shared sequential cursor
    (the threads together read the file in order, as fio's depth does on one file)."""
    blocks = job.blocks
    if job.rw.startswith("rand"):
        rng = random.Random(seed)  # noqa: S311  # offsets, not secrets
        while True:
            yield rng.randrange(blocks) * job.bs
    for n in cursor:
        yield (n % blocks) * job.bs


def _work(  # noqa: PLR0917  # a thread's target takes its arguments by position
        fd: int, job: DiskJob, seed: int, cursor: Iterator[int], deadline_ns: int,
        stop: threading.Event, out: _Worker) -> None:
    buf = mmap.mmap(-1, job.bs)  # page-aligned, as O_DIRECT needs
    buffers = [buf]
    mix = random.Random(seed ^ 0x5EED)  # noqa: S311
    writes = job.rw in {"write", "randwrite"}
    clock = time.perf_counter_ns
    try:
        for offset in _offsets(job, seed, cursor):
            is_read = (mix.randrange(100) < job.rwmixread) if job.rw == "randrw" else not writes
            t0 = clock()
            if is_read:
                os.preadv(fd, buffers, offset)
            else:
                os.pwritev(fd, buffers, offset)
            t1 = clock()
            (out.read if is_read else out.write).add(t1 - t0)
            if t1 >= deadline_ns or stop.is_set():
                break
    except OSError as exc:
        out.error = exc
        stop.set()
    finally:
        out.read.flush()
        out.write.flush()
        buf.close()


def _clat(hist: Histogram) -> DiskClatDoc:
    values = hist.values_at_percentiles(list(PERCENTILES))
    return {"min": hist.min, "max": hist.max, "mean": hist.mean, "stddev": hist.stdev(),
            "percentile": {f"{p:.6f}": int(v) for p, v in zip(PERCENTILES, values, strict=True)}}


def _side(sides: list[_Side], job: DiskJob, elapsed_s: float) -> DiskSideDoc | None:
    ios = sum(s.ios for s in sides)
    if ios == 0:
        return None
    hist = Histogram()
    for s in sides:
        hist.merge(s.hist)
    return {"ios": ios, "io_bytes": ios * job.bs, "iops": ios / elapsed_s,
            "bw_bytes": ios * job.bs / elapsed_s, "clat_ns": _clat(hist)}


def _sides_of(job: DiskJob) -> tuple[bool, bool]:
    """(reads expected, writes expected)."""
    if job.rw == "randrw":
        return job.rwmixread > 0, job.rwmixread < 100
    return job.rw in {"read", "randread"}, job.rw in {"write", "randwrite"}


def run_disk(job: DiskJob, *, on_start: Callable[[], None] | None = None,
             wait: Callable[[threading.Event, float], object] | None = None) -> BenchDiskDoc:
    """Lay the file out, run the job for ``job.runtime_s`` and return fio's figures.

    ``on_start`` is called once the file is laid out and the threads are about to start (the
    CLI prints there); ``wait(stop, seconds)`` waits for the run's end (tests interrupt it).
    A KeyboardInterrupt during the run stops the threads and returns what was measured with
    ``interrupted`` true; the file is gone in every case.
    """
    _check_directory(job.directory, job.size)
    fd = _open_unnamed(job.directory)
    warnings: list[str] = []
    try:
        try:
            _lay_out(fd, job.blocks * job.bs)
        except OSError as exc:
            raise TargetError(f"cannot lay out the test file in {str(job.directory)!r}: "
                              f"{exc.strerror}",
                              hint="check the free space and the device") from exc
        direct = _set_direct(fd) if job.direct else False
        if job.direct and not direct:
            warnings.append("the filesystem refuses O_DIRECT: the page cache is in the way, "
                            "so these figures are partly memory's")
        elif not job.direct:
            warnings.append("buffered I/O (no --direct): reads of pages already cached and "
                            "writes into the page cache are memory's speed, not the device's")
        doc, interrupted = _measure(fd, job, on_start, wait or _wait)
    finally:
        os.close(fd)
    doc["direct_io"] = direct
    doc["warnings"] = warnings
    doc["interrupted"] = interrupted
    return doc


def _wait(stop: threading.Event, seconds: float) -> object:
    return stop.wait(seconds)


def _measure(fd: int, job: DiskJob, on_start: Callable[[], None] | None,
             wait: Callable[[threading.Event, float], object]) -> tuple[BenchDiskDoc, bool]:
    stop = threading.Event()
    cursor = itertools.count()  # next() on a count is atomic under the GIL
    workers = [_Worker() for _ in range(job.iodepth)]
    seeds = random.SystemRandom()
    if on_start is not None:
        on_start()
    start = time.perf_counter_ns()
    deadline = start + round(job.runtime_s * 1e9)
    threads = [threading.Thread(target=_work, name=f"perflab-disk-{i}", daemon=True,
                                args=(fd, job, seeds.getrandbits(32), cursor, deadline, stop, w))
               for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    interrupted = False
    try:
        wait(stop, job.runtime_s)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop.set()
        for t in threads:
            t.join()
    elapsed = max((time.perf_counter_ns() - start) / 1e9, 1e-9)
    failed = next((w.error for w in workers if w.error is not None), None)
    if failed is not None:
        raise TargetError(f"I/O failed in {str(job.directory)!r}: {failed.strerror}",
                          hint="check the device (dmesg) and the free space")
    reads, writes = _sides_of(job)
    doc: BenchDiskDoc = {
        "schema": "perflab.bench-disk/1",
        "job": {"directory": str(job.directory), "rw": job.rw, "bs": job.bs,
                "iodepth": job.iodepth, "size": job.blocks * job.bs, "runtime_s": job.runtime_s,
                "direct": job.direct, "rwmixread": job.rwmixread, "ioengine": ENGINE},
        "direct_io": False, "elapsed_s": elapsed, "interrupted": False, "warnings": [],
        "read": _side([w.read for w in workers], job, elapsed) if reads else None,
        "write": _side([w.write for w in workers], job, elapsed) if writes else None,
    }
    return doc, interrupted
