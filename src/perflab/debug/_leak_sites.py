"""Allocation sites ranked by growth, not by size: each site's live bytes in every heap snapshot
become a series, and its Theil-Sen slope orders the sites. A big cache that stays the same size
ranks below a small list that grows every minute."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from perflab.debug._trend import theil_sen

if TYPE_CHECKING:
    from collections.abc import Sequence

    from perflab.debug._goheap import SiteSample


@dataclass(frozen=True, slots=True)
class GrowingSite:
    function: str
    file: str
    line: int
    bytes_per_s: float          # Theil-Sen slope of its live bytes
    growth_bytes: int           # last snapshot - first
    objects_growth: int
    bytes: int                  # live in the last snapshot
    stack: tuple[str, ...]      # leaf first

    def to_json(self, rank: int) -> dict[str, object]:
        return {"rank": rank, "function": self.function, "file": self.file, "line": self.line,
                "growth_bytes": self.growth_bytes,
                "growth_mb_per_h": self.bytes_per_s * 3600 / 1e6,
                "objects_growth": self.objects_growth, "bytes": self.bytes,
                "stack": list(self.stack)}


def rank_sites(snapshots: Sequence[tuple[float, dict[str, SiteSample]]], *,
               top: int = 10, min_growth: float = 0.0) -> list[GrowingSite]:
    """The sites whose live bytes grew by more than ``min_growth`` across ``snapshots`` (time,
    site -> sample), fastest first. A site absent from a snapshot had nothing live there."""
    if len(snapshots) < 2:  # growth needs two snapshots
        return []
    times = [t for t, _ in snapshots]
    keys = {k for _, sites in snapshots for k in sites}
    ranked: list[GrowingSite] = []
    for key in keys:
        values = [float(sites[key].bytes) if key in sites else 0.0 for _, sites in snapshots]
        growth = values[-1] - values[0]
        slope, _ = theil_sen(times, values)
        # the trend must grow past the floor too, not the two ends alone: a bounded site read
        # through Go's sampled heap profile jumps by a few 512 KiB samples now and then, and
        # one such jump at the end looked like growth (the robust slope of a flat site is ~0)
        if growth <= min_growth or slope * (times[-1] - times[0]) <= min_growth:
            continue
        last = next(sites[key] for _, sites in reversed(snapshots) if key in sites)
        first_objects = snapshots[0][1][key].objects if key in snapshots[0][1] else 0
        last_objects = snapshots[-1][1][key].objects if key in snapshots[-1][1] else 0
        ranked.append(GrowingSite(last.function, last.file, last.line, slope, int(growth),
                                  last_objects - first_objects, int(values[-1]), last.stack))
    ranked.sort(key=lambda s: (-s.bytes_per_s, -s.growth_bytes, s.function))
    return ranked[:top]
