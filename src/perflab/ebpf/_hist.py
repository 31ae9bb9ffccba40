"""Log2 histograms as bpftrace's hist() produces them, rendered the way bcc's tools print."""

from __future__ import annotations

from dataclasses import dataclass

from perflab.ebpf._contracts import Log2HistJson

_BAR = 40


@dataclass(frozen=True, slots=True)
class Log2Hist:
    """Buckets (low, high, count), low..high inclusive; a bucket of negatives has low=-1."""

    buckets: tuple[tuple[int, int, int], ...]

    @classmethod
    def from_bpftrace(cls, data: list[dict[str, int]]) -> Log2Hist:
        out = []
        for b in data:
            low = b.get("min", -1 if b.get("max", 0) < 0 else 0)
            out.append((int(low), int(b.get("max", low)), int(b.get("count", 0))))
        return cls(tuple(out))

    @property
    def count(self) -> int:
        return sum(c for _, _, c in self.buckets)

    def quantile(self, q: float) -> int:
        """Upper bound of the bucket holding quantile ``q`` (log2 histograms know no better)."""
        total = self.count
        if not total:
            return 0
        need = q * total
        seen = 0
        for _low, high, c in self.buckets:
            seen += c
            if seen >= need:
                return high
        return self.buckets[-1][1]

    def render(self, unit: str) -> str:
        """bcc's layout: ``low -> high : count |*****   |``, first to last non-empty bucket."""
        rows = [b for b in self.buckets if b[0] >= 0]
        nonzero = [i for i, b in enumerate(rows) if b[2]]
        if not nonzero:
            return f"{unit:>10}{'':14} : count     distribution\n  (no events)\n"
        rows = rows[nonzero[0]: nonzero[-1] + 1]
        peak = max(c for _, _, c in rows)
        width = max(10, *(len(str(h)) for _, h, _ in rows))
        lines = [f"{unit:>{width}}{'':{width + 4}} : count     distribution"]
        for low, high, c in rows:
            stars = "*" * (round(_BAR * c / peak) if peak else 0)
            lines.append(f"{low:>{width}} -> {high:<{width}} : {c:<8} |{stars:<{_BAR}}|")
        return "\n".join(lines) + "\n"

    def to_json(self) -> Log2HistJson:
        return {"buckets": [{"low": lo, "high": hi, "count": c} for lo, hi, c in self.buckets
                            if c], "count": self.count,
                "p50": self.quantile(0.5), "p99": self.quantile(0.99)}
