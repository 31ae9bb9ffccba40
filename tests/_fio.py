"""fio and perflab bench disk on the same job, for the integration test and the benchmark.

The job is fio's psync engine with numjobs=IODEPTH threads on one file, which is what perflab's
--iodepth does; both lay the file out first and run time-based.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

from perflab.bench import DiskJob, run_disk


@dataclass(frozen=True, slots=True)
class Figures:
    iops: float
    p50_ns: int
    p99_ns: int


def fio_or_exit() -> str:
    """fio's path, for a benchmark (tests use ``require_tool``)."""
    path = shutil.which("fio")
    if path is None:
        raise SystemExit("fio is not installed: apt-get install fio")
    return path


def fio(fio_exe: str, job: DiskJob) -> Figures:
    target = job.directory / "perflab-vs-fio.dat"
    side: Literal["read", "write"] = "write" if job.rw in {"write", "randwrite"} else "read"
    try:
        out = subprocess.run(
            [fio_exe, "--name=perflab-vs-fio", f"--filename={target}", f"--rw={job.rw}",
             f"--bs={job.bs}", f"--size={job.size}", f"--runtime={job.runtime_s}",
             "--time_based", f"--direct={int(job.direct)}", "--ioengine=psync",
             f"--numjobs={job.iodepth}", "--thread", "--group_reporting",
             f"--rwmixread={job.rwmixread}", "--output-format=json"],
            check=True, capture_output=True, text=True, timeout=job.runtime_s + 120).stdout
    finally:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
    doc = json.loads(out[out.index("{"):])  # fio may print notes before its JSON
    figures = doc["jobs"][0][side]
    pct = figures["clat_ns"]["percentile"]
    return Figures(float(figures["iops"]), int(pct["50.000000"]), int(pct["99.000000"]))


def perflab(job: DiskJob) -> Figures:
    doc = run_disk(job)
    figures = doc["write"] if job.rw in {"write", "randwrite"} else doc["read"]
    assert figures is not None
    pct = figures["clat_ns"]["percentile"]
    return Figures(figures["iops"], pct["50.000000"], pct["99.000000"])


def alternate(fio_exe: str, job: DiskJob, rounds: int) -> tuple[list[Figures], list[Figures]]:
    """(fio's, perflab's) figures, the two measured in turn ``rounds`` times each."""
    theirs, ours = [], []
    for _ in range(rounds):
        theirs.append(fio(fio_exe, job))
        ours.append(perflab(job))
    return theirs, ours


__all__ = ["Figures", "alternate", "fio", "fio_or_exit", "perflab"]
