"""HdrHistogram's percentile-distribution text format (``.hgrm``), as wrk2 and the HdrHistogram
tools print it and as the HdrHistogram plotter (hdrhistogram.github.io/HdrHistogram/plotFiles)
reads it. Values are written in milliseconds (the recorded microseconds / 1000), as wrk2 does.

The percentile ladder is HdrHistogram's: 5 ticks per half distance to 100 %, so the lines thin
out towards the median and crowd towards the tail (50, 75, 87.5, 93.75 % ... each halving
split in five), then one line at 100 %.
"""

from __future__ import annotations

import math

import numpy as np

from perflab.load._hdr import BUCKET_COUNT, SUB_BUCKET_COUNT, Histogram, highest_equivalent

TICKS_PER_HALF_DISTANCE = 5
_VALUE_SCALE = 1000.0  # µs -> ms


def percentile_lines(h: Histogram, ticks: int = TICKS_PER_HALF_DISTANCE,
                     ) -> list[tuple[float, float, int]]:
    """(value µs, percentile 0-100, count at or below) rows of HdrHistogram's percentile walk."""
    if h.total == 0:
        return []
    nz = np.nonzero(h.counts)[0].astype(np.int64)
    cum = np.cumsum(h.counts[nz])
    values = highest_equivalent(nz)
    rows: list[tuple[float, float, int]] = []
    target = 0.0  # the next percentile level to report
    pos = 0
    while True:
        count_here = int(cum[pos])
        if 100.0 * count_here / h.total >= target:
            rows.append((float(values[pos]), target, count_here))
            half_distance = 2 ** (int(math.log2(100.0 / (100.0 - target))) + 1)
            target += 100.0 / (ticks * half_distance)
            if count_here >= h.total:
                break
            continue
        pos += 1
    rows.append((float(values[-1]), 100.0, h.total))
    return rows


def format_hgrm(h: Histogram) -> str:
    """The whole ``.hgrm`` text: header, percentile lines, mean/stdev/max/count footer."""
    out = [f"{'Value':>12} {'Percentile':>12} {'TotalCount':>12} {'1/(1-Percentile)':>12}\n\n"]
    for value, pct, count in percentile_lines(h):
        frac = pct / 100.0
        inverse = math.inf if frac >= 1.0 else 1.0 / (1.0 - frac)
        out.append(f"{value / _VALUE_SCALE:12.3f} {frac:12f} {count:12d} {inverse:12.2f}\n")
    mean = h.mean / _VALUE_SCALE if h.total else 0.0
    stdev = h.stdev() / _VALUE_SCALE if h.total else 0.0
    out.append(f"#[Mean    = {mean:12.3f}, StdDeviation   = {stdev:12.3f}]\n")
    out.append(f"#[Max     = {h.max / _VALUE_SCALE:12.3f}, Total count    = {h.total:12d}]\n")
    out.append(f"#[Buckets = {BUCKET_COUNT:12d}, SubBuckets     = {SUB_BUCKET_COUNT:12d}]\n")
    return "".join(out)
