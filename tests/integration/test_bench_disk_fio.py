"""perflab bench disk against fio on the same job, measured alternately in the same test.

No absolute speed is asserted: the ratio of the median IOPS (and of the median latency) must
be within generous bounds, which a busy shared machine does not break but a wrong engine (a
queue depth that is not one, the page cache instead of the device, latencies in the wrong unit)
does.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from tests._fio import alternate
from tests.conftest import require_tool

from perflab.bench import DiskJob

pytestmark = [pytest.mark.integration, pytest.mark.alone]


@pytest.mark.parametrize("rw", ["randread", "randwrite"])
def test_iops_within_a_band_of_fios(rw: str, tmp_path: Path) -> None:
    fio = require_tool("fio")
    job = DiskJob(tmp_path, rw=rw, bs=4096, iodepth=4, size=64 << 20,  # type: ignore[arg-type]
                  runtime_s=2.0, direct=True)
    theirs, ours = alternate(fio, job, rounds=2)
    ratio = statistics.median(f.iops for f in ours) / statistics.median(f.iops for f in theirs)
    assert 0.33 < ratio < 3.0, (ratio, theirs, ours)
    p50 = (statistics.median(f.p50_ns for f in ours)
           / statistics.median(f.p50_ns for f in theirs))
    assert 0.2 < p50 < 5.0, (p50, theirs, ours)
    assert list(tmp_path.iterdir()) == []
