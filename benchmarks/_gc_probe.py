"""``perflab`` with the cyclic collector's passes timed, for benchmarks:

    python benchmarks/_gc_probe.py OUT.json perflab-arguments...

At exit, OUT.json holds each pass (its generation, its start and end on the monotonic clock,
which every process on the machine shares, and the objects it freed) and the process's peak
resident set size. The callback runs in the thread that triggered the pass, which
holds the GIL from its start to its end, so a start and its end are never interleaved.
"""

from __future__ import annotations

import atexit
import gc
import json
import sys
import time
from pathlib import Path


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    out = Path(sys.argv[1])
    passes: list[tuple[int, float, float, int]] = []
    started = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.monotonic()
        else:
            passes.append((info["generation"], started[0], time.monotonic(), info["collected"]))

    def dump() -> None:
        doc = {"passes": passes, "vm_hwm_kib": _status_kib("VmHWM")}
        out.write_text(json.dumps(doc), encoding="utf-8")

    gc.callbacks.append(timed)
    atexit.register(dump)
    sys.argv = ["perflab", *sys.argv[2:]]
    from perflab.__main__ import main as perflab  # noqa: PLC0415  # after the callback is in

    perflab()


if __name__ == "__main__":
    main()
