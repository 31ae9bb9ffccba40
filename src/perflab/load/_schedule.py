"""Arrival schedules of the open model: a constant rate, or k6-style ramping stages.

A schedule is the cumulative number of arrivals ``A(t)`` (piecewise quadratic: the rate is
piecewise linear) and its inverse, the intended start time of request ``i``. Latency in the
open model is measured from that intended time, so a stalled server cannot hide the requests
it delayed (coordinated omission).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from perflab.errors import InvalidValue
from perflab.units import parse_duration, parse_rate


@dataclass(frozen=True, slots=True)
class Stage:
    """Ramp linearly from the previous stage's rate to ``target`` (/s) over ``duration_s``."""

    duration_s: float
    target: float

    def label(self) -> str:
        return f"{self.duration_s:g}s:{self.target:g}"


def parse_stages(text: str) -> tuple[Stage, ...]:
    """``"30s:100,1m:2000,30s:0"`` -> stages. Errors name the bad part."""
    stages = []
    for raw in text.split(","):
        part = raw.strip()
        dur, sep, rate = part.partition(":")
        if not sep or not dur.strip() or not rate.strip():
            raise InvalidValue(f"invalid stage {part!r} in --stages {text!r}",
                               hint='write stages as DURATION:RATE, e.g. "30s:100,1m:2000,30s:0"')
        try:
            stage = Stage(parse_duration(dur), parse_rate(rate))
        except InvalidValue as err:
            raise InvalidValue(f"invalid stage {part!r} in --stages {text!r}: {err.message}",
                               hint=err.hint) from None
        if stage.duration_s <= 0:
            raise InvalidValue(f"invalid stage {part!r}: the duration must be positive")
        stages.append(stage)
    return tuple(stages)


@dataclass(frozen=True, slots=True)
class _Segment:
    t0: float
    duration: float
    r0: float
    r1: float
    a0: float  # arrivals before t0

    @property
    def arrivals(self) -> float:
        return (self.r0 + self.r1) / 2 * self.duration


class Schedule:
    """Intended start times of an arrival process whose rate is piecewise linear."""

    def __init__(self, stages: tuple[Stage, ...], start_rate: float = 0.0) -> None:
        self.stages = stages
        segs = []
        t = a = 0.0
        r = start_rate
        for st in stages:
            seg = _Segment(t, st.duration_s, r, st.target, a)
            segs.append(seg)
            t += st.duration_s
            a += seg.arrivals
            r = st.target
        self._segments = segs
        self.duration_s = t
        self.total = math.floor(a + 1e-9)  # arrivals in the whole schedule

    @classmethod
    def constant(cls, rate: float, duration_s: float) -> Schedule:
        return cls((Stage(duration_s, rate),), start_rate=rate)

    def arrivals_by(self, t: float) -> float:
        """A(t): how many requests should have started by ``t`` seconds."""
        for seg in self._segments:
            if t < seg.t0 + seg.duration:
                x = max(0.0, t - seg.t0)
                slope = (seg.r1 - seg.r0) / seg.duration
                return seg.a0 + seg.r0 * x + slope * x * x / 2
        return float(self.total)

    def time_of(self, i: float) -> float:
        """The intended start (seconds from the beginning) of request ``i`` (0-based)."""
        for seg in self._segments:
            if i < seg.a0 + seg.arrivals:
                n = i - seg.a0
                slope = (seg.r1 - seg.r0) / seg.duration
                # x solves r0·x + slope·x²/2 = n; this form is stable for slope -> 0 and r0 = 0
                denom = seg.r0 + math.sqrt(max(seg.r0 * seg.r0 + 2 * slope * n, 0.0))
                return seg.t0 + (2 * n / denom if denom > 0 else 0.0)
        return self.duration_s

    def rate_at(self, t: float) -> float:
        for seg in self._segments:
            if t < seg.t0 + seg.duration:
                return seg.r0 + (seg.r1 - seg.r0) * (t - seg.t0) / seg.duration
        return self._segments[-1].r1 if self._segments else 0.0
