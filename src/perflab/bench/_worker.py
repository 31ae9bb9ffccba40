"""The measuring process of ``perflab bench run`` (one per batch of values, as pyperf does).

Run as ``python path/to/_worker.py SPEC_JSON`` (by path, so that any interpreter runs it:
``bench run --python`` may name one without perflab or its dependencies; this module imports
the standard library only); prints one JSON line. A fresh process per batch means each batch
gets its own memory layout, hash seed and warm-up, so the values sample those sources of
variation instead of freezing one of them.

    {"mode": "about"}                                            -> the interpreter's identity
    {"mode": "calibrate", "file", "func", "min_time", "clock"}  -> {"loops": N, "elapsed": s}
    {"mode": "measure", "file", "func", "loops", "values", "warmups", "clock"}
                                                                 -> {"values": [s per call]}
    {"mode": "callgrind", "file", "func", "loops", "values"}    -> marks for callgrind dumps
    {"mode": "alternate", "benches": [[file, func], ...], "loops": [per slice], "values",
     "slices", "warmups", "clock"}                               -> {"values": [[s per call]]}

``alternate`` measures several functions in one process, each value in ``slices`` short
stretches taken in turn with the other functions (ABBA...): a burst of load from other
processes, which lasts longer than a few milliseconds, then lands on every function alike.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_LOOPS = 1 << 32


def load_function(file: str, func: str) -> Callable[[], object]:
    path = Path(file).resolve()
    spec = importlib.util.spec_from_file_location(f"_perflab_bench_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # benchmarks import their neighbours
    spec.loader.exec_module(module)
    fn = getattr(module, func)
    if not callable(fn):
        raise TypeError(f"{func} in {path} is not a function")
    return fn  # type: ignore[no-any-return]  # checked callable above


def clock_of(name: str) -> Callable[[], float]:
    return time.process_time if name == "cpu" else time.perf_counter


def time_loops(fn: Callable[[], object], loops: int, clock: Callable[[], float]) -> float:
    """Seconds for ``loops`` calls (the loop itself is part of the cost, as in timeit)."""
    r = range(loops)
    gc_was = gc.isenabled()
    gc.disable()  # a collection landing in one value but not another is noise, not signal
    try:
        start = clock()
        for _ in r:
            fn()
        return clock() - start
    finally:
        if gc_was:
            gc.enable()


def calibrate(fn: Callable[[], object], min_time: float, clock: Callable[[], float]
              ) -> tuple[int, float]:
    """The smallest power-of-two loop count whose run takes at least ``min_time``."""
    loops = 1
    while True:
        elapsed = time_loops(fn, loops, clock)
        if elapsed >= min_time or loops >= MAX_LOOPS:
            return loops, elapsed
        # jump close to the target instead of doubling from 1 for fast functions
        if elapsed > 0:
            factor = max(2, int(min_time / elapsed * 1.2))
            loops = min(MAX_LOOPS, 1 << (loops * factor - 1).bit_length())
        else:
            loops *= 2


# callgrind's triggers (--zero-before / --dump-before): libc's exported getppid and getpgrp,
# which os.getppid() and os.getpgrp() call in every CPython build. Not os_getppid: that is a
# static function of the interpreter, only visible in an unstripped build (Debian's
# /usr/bin/python3.11 is stripped, and callgrind then wrote no counts at all).
ZERO_SYMBOL = "getppid"
DUMP_SYMBOL = "getpgrp"


def about() -> dict[str, Any]:
    return {"python": platform.python_version(),
            "python_implementation": platform.python_implementation(),
            "executable": sys.executable}


def alternate(fns: list[Callable[[], object]], loops: list[int], *, values: int, slices: int,
              warmups: int, clock: Callable[[], float]) -> list[list[float]]:
    """Per function, ``values`` values of seconds per call, their slices taken in turn.

    The order flips every slice (A B, B A, A B ...) so that neither function always runs
    right after the other (warm caches, a pending collection) or first after a pause.
    """
    for _ in range(warmups):
        for fn, n in zip(fns, loops, strict=True):
            time_loops(fn, n * slices, clock)
    out: list[list[float]] = [[] for _ in fns]
    order = list(range(len(fns)))
    for _ in range(values):
        spent = [0.0] * len(fns)
        for _ in range(slices):
            for i in order:
                spent[i] += time_loops(fns[i], loops[i], clock)
            order.reverse()
        for i, total in enumerate(spent):
            out[i].append(total / (loops[i] * slices))
    return out


def run(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["mode"] == "about":
        return about()
    clock = clock_of(spec.get("clock", "wall"))
    if spec["mode"] == "alternate":
        fns = [load_function(f, name) for f, name in spec["benches"]]
        return {"values": alternate(fns, [int(n) for n in spec["loops"]],
                                    values=int(spec["values"]), slices=int(spec["slices"]),
                                    warmups=int(spec.get("warmups", 1)), clock=clock)}
    fn = load_function(spec["file"], spec["func"])
    if spec["mode"] == "calibrate":
        loops, elapsed = calibrate(fn, float(spec["min_time"]), clock)
        return {"loops": loops, "elapsed": elapsed}
    loops = int(spec["loops"])
    if spec["mode"] == "callgrind":
        return _callgrind_marks(fn, loops, int(spec["values"]), clock)
    for _ in range(int(spec.get("warmups", 1))):
        time_loops(fn, loops, clock)
    # loops = 0 is the empty run that --metric instructions subtracts: report the raw time
    values = [time_loops(fn, loops, clock) / max(loops, 1) for _ in range(int(spec["values"]))]
    return {"values": values}


def _callgrind_marks(fn: Callable[[], object], loops: int, values: int,
                     clock: Callable[[], float]) -> dict[str, Any]:
    """Bracket each measured stretch with two rare C calls for callgrind's triggers.

    The parent runs this process under ``valgrind --tool=callgrind --zero-before=getppid
    --dump-before=getpgrp`` (libc's, see ZERO_SYMBOL): os.getppid() zeroes the counters,
    os.getpgrp() writes them out, so every dump holds exactly one stretch: ``loops`` calls,
    then zero calls (the bracket's own cost, subtracted by the parent). Interpreter start-up
    never enters a dump.
    """
    time_loops(fn, loops, clock)  # warm-up: first-call costs (imports, caches) stay out
    # one extra bracketed pair first: the first stretch after start-up still pays one-time
    # costs (about +50 % here); the parent drops it
    for _ in range(values + 1):
        for n in (loops, 0):
            os.getppid()
            time_loops(fn, n, clock)
            os.getpgrp()
    return {"marked": values}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    try:
        out = run(spec)
    except Exception as exc:  # reported to the parent, which names the benchmark
        sys.stdout.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 1
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
