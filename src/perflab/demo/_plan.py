"""The demo's script: four phases of traffic, each with the faults it switches on.

1. **normal** — every endpoint at a gentle rate, no faults: the baseline.
2. **cpu** — ``/hash`` runs ``checksum_slowly``; ``/work`` keeps going beside it.
   ``/work`` has a latency threshold in both: the CPU fault makes it fail (a finding, not an error).
3. **lock** — ``/report`` holds a global lock while it "does I/O"; driven back to back at
   rising concurrency (1, 4, 8), one step each.
4. **leak** — ``/cache`` stops evicting; new keys at a steady rate.

Rates are modest on purpose: the demo shares the machine (CI runners, laptops) and must show the
problems, not cause new ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from perflab.demo._traffic import Stream

PHASE_SHARES = {"normal": 0.2, "cpu": 0.25, "lock": 0.3, "leak": 0.25}
LOCK_LEVELS = (1, 4, 8)
HASH_ROUNDS = 300_000   # about 20 ms of pure-Python CPU per request with the fault on
REPORT_MS = 20          # the "I/O" of one report
LEAK_ENTRY_KIB = 32     # x 100 new keys/s: about 190 MiB/min while the leak is on
# The /work threshold: met with no fault, missed with the CPU fault on (/work then waits for
# the interpreter lock behind /hash). p90, not p99: a phase sends /work a few hundred requests,
# too few for a p99 that is not one request's hiccup.
WORK_THRESHOLD = "p90<5ms"
MIN_DURATION_S = 8.0
MAX_DURATION_S = 600.0


@dataclass(frozen=True, slots=True)
class Step:
    streams: tuple[Stream, ...]
    seconds: float
    label: str = ""


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    text: str
    faults: dict[str, bool]
    steps: tuple[Step, ...]

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)


def plan(duration_s: float) -> list[Phase]:
    """The phases for a demo of ``duration_s`` seconds of traffic in total."""
    sec = {name: share * duration_s for name, share in PHASE_SHARES.items()}
    hash_path = f"/hash?n={HASH_ROUNDS}"
    report_path = f"/report?ms={REPORT_MS}"
    off = {"cpu": False, "lock": False, "leak": False}
    normal = (
        Stream("/work", "/work", concurrency=2, rate=40, thresholds=(WORK_THRESHOLD,)),
        Stream("/hash", hash_path, concurrency=2, rate=20),
        Stream("/report", report_path, concurrency=4, rate=40),
        Stream("/cache", f"/cache?key=k{{n}}&kib={LEAK_ENTRY_KIB}", concurrency=1, rate=20,
               key_space=64),
    )
    cpu = (
        Stream("/hash", hash_path, concurrency=4, rate=25),
        Stream("/work", "/work", concurrency=1, rate=20, thresholds=(WORK_THRESHOLD,)),
    )
    lock_steps = tuple(
        Step((Stream("/report", report_path, concurrency=c),), sec["lock"] / len(LOCK_LEVELS),
             f"/report at concurrency {c}")
        for c in LOCK_LEVELS
    )
    leak = (Stream("/cache", f"/cache?key=leak-{{n}}&kib={LEAK_ENTRY_KIB}", concurrency=2,
                   rate=100),)
    return [
        Phase("normal", "normal traffic, no faults", off, (Step(normal, sec["normal"]),)),
        Phase("cpu", "CPU fault: /hash runs checksum_slowly", {**off, "cpu": True},
              (Step(cpu, sec["cpu"]),)),
        Phase("lock", "lock fault: /report holds a global lock during its I/O",
              {**off, "lock": True}, lock_steps),
        Phase("leak", "leak fault: /cache never evicts", {**off, "leak": True},
              (Step(leak, sec["leak"]),)),
    ]
