"""``perflab bench cmd "A" "B"``: time whole commands as hyperfine does, but interleaved.

hyperfine runs all of A, then all of B; a machine that heats up, throttles or gets a noisy
neighbour halfway through makes B look different for reasons that are not B's. Here each round
runs every command once, alternating the order each round (A B, B A, A B ...), so drift lands
on all commands alike and its effect cancels in the comparison.

The metric is wall time per run (``time``), or instructions retired counted by valgrind's
callgrind (``instructions``): slow (x50) but nearly deterministic, for CI runners too noisy to
time on.
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from perflab.errors import CheckFailed, InvalidValue, ToolMissing

VALGRIND_INSTALL = "apt-get install valgrind"


@dataclass
class CommandResult:
    command: str
    values: list[float] = field(default_factory=list)  # seconds or instructions per run
    user_s: list[float] = field(default_factory=list)
    sys_s: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)


def argv_of(command: str, shell: bool) -> list[str]:
    if shell:
        return ["/bin/sh", "-c", command]
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidValue(f"cannot split command {command!r}: {exc}",
                           hint="quote it properly, or pass --shell") from exc
    if not argv:
        raise InvalidValue("empty command", hint='give each command as one argument: "sleep 1"')
    return argv


def run_once_time(argv: list[str]) -> tuple[float, float, float, int]:
    """(wall s, user s, sys s, exit code) of one run; output goes to /dev/null."""
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise InvalidValue(f"command not found: {argv[0]}",
                           hint="check the name, or pass --shell for shell syntax") from exc
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime, usage.ru_stime, proc.returncode


_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def _valgrind(given: str | None) -> str:
    """The valgrind to run: the one given, else the one on PATH."""
    tool = given or shutil.which("valgrind")
    if tool is None:
        raise ToolMissing("valgrind", install=VALGRIND_INSTALL)
    return tool


def callgrind_instructions(argv: list[str], *, valgrind: str | None = None,
                           env: dict[str, str] | None = None) -> tuple[float, int]:
    """Instructions retired by ``argv`` (all of its threads), counted by callgrind."""
    tool = _valgrind(valgrind)
    with tempfile.TemporaryDirectory(prefix="perflab-callgrind-") as d:
        out = Path(d) / "callgrind.out"
        proc = subprocess.run(
            [tool, "--tool=callgrind", f"--callgrind-out-file={out}", "--trace-children=no",
             *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False,
            stdin=subprocess.DEVNULL, env=env)
        text = out.read_text(errors="replace") if out.exists() else ""
    refuse_a_breakpoint_death(proc.stderr, shlex.join(argv))
    m = _TOTALS.search(text)
    if m is None:
        raise CheckFailed(f"callgrind produced no counts for {shlex.join(argv)}: "
                          f"{valgrind_failure(proc.stderr)}", hint="run the command under "
                          "`valgrind --tool=callgrind` yourself to see why")
    return float(m.group(1)), proc.returncode


_DEATH = re.compile(r"^==\d+== Process terminating with default action of signal \d+ "
                    r"\((SIG\w+)\)[^\n]*\n(?:==\d+==\s+at (?:0x[0-9A-Fa-f]+: )?(.+))?",
                    re.MULTILINE)


def valgrind_failure(log: str) -> str:
    """What valgrind's log says went wrong, in one line: the fatal signal and where it struck,
    else the log's last line (its stack traces and summary are in the log itself)."""
    death = _DEATH.search(log)
    if death is not None:
        where = f" at {death.group(2).strip()}" if death.group(2) else ""
        return f"the program died of {death.group(1)} under valgrind{where}"
    lines = [line for line in log.strip().splitlines() if line.strip()]
    return lines[-1][-300:] if lines else "valgrind printed nothing"


def refuse_a_breakpoint_death(log: str, what: str) -> None:
    """A SIGTRAP under valgrind is almost always a uprobe, not the program: bpftrace, perf probe
    or any eBPF tool tracing a library function writes a breakpoint into that library's pages
    for every process that maps it. The kernel steps over it natively; valgrind translates the
    breakpoint like any other instruction and delivers the trap to the program, which dies.
    The count would be of a different program's death, so it is never kept, even with
    --ignore-failure."""
    death = _DEATH.search(log)
    if death is not None and death.group(1) == "SIGTRAP":
        raise CheckFailed(f"{what}: {valgrind_failure(log)}",
                          hint="a uprobe on that function (bpftrace, perf probe, an eBPF tool "
                               "such as perflab ebpf libcalls or perflab leak on a native "
                               "process) plants a breakpoint valgrind cannot step over: count "
                               "again once nothing traces that library")


def callgrind_marked_parts(argv: list[str], *, env: dict[str, str] | None = None,
                           valgrind: str | None = None) -> list[float]:
    """Instruction counts of each stretch ``argv`` brackets with os.getppid()/os.getpgrp()
    (libc's ``getppid``/``getpgrp``, exported by every libc, so any Python build works)."""
    from perflab.bench._worker import DUMP_SYMBOL, ZERO_SYMBOL  # noqa: PLC0415

    tool = _valgrind(valgrind)
    with tempfile.TemporaryDirectory(prefix="perflab-callgrind-") as d:
        out = Path(d) / "cg.out"
        proc = subprocess.run(
            [tool, "--tool=callgrind", f"--callgrind-out-file={out}",
             f"--zero-before={ZERO_SYMBOL}", f"--dump-before={DUMP_SYMBOL}", *argv],
            capture_output=True, text=True, check=False,
            stdin=subprocess.DEVNULL, env=env)
        parts = sorted(Path(d).glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        counts = []
        for part in parts:
            m = _SUMMARY.search(part.read_text(errors="replace"))
            if m is not None:
                counts.append(float(m.group(1)))
    refuse_a_breakpoint_death(proc.stderr, "the benchmark worker")
    if proc.returncode != 0:
        said = proc.stdout.strip().splitlines()[-1:] or [valgrind_failure(proc.stderr)]
        raise CheckFailed(f"the benchmark worker failed under valgrind: {said[0][-300:]}",
                          hint="run it without --metric instructions to see the error")
    return counts


_SUMMARY = re.compile(r"^summary:\s+(\d+)", re.MULTILINE)


def run_commands(commands: list[str], *, runs: int = 10, warmup: int = 1, shell: bool = False,
                 metric: str = "time", ignore_failure: bool = False,
                 progress: Callable[[str], None] | None = None) -> list[CommandResult]:
    if len(commands) < 1:
        raise InvalidValue("no command given", hint='perflab bench cmd "./old" "./new"')
    if runs < 2:
        raise InvalidValue("--runs must be at least 2", hint="10 or more gives useful statistics")
    argvs = [argv_of(c, shell) for c in commands]
    results = [CommandResult(c) for c in commands]
    try:
        _rounds(commands, argvs, results, runs=runs, warmup=warmup, metric=metric,
                ignore_failure=ignore_failure, progress=progress)
    except KeyboardInterrupt as exc:
        raise CommandsInterrupted(results) from exc
    return results


class CommandsInterrupted(KeyboardInterrupt):
    """Ctrl-C while timing commands, carrying the runs completed before it."""

    def __init__(self, partial: list[CommandResult]) -> None:
        super().__init__("interrupted")
        self.partial = partial


def _rounds(commands: list[str], argvs: list[list[str]], results: list[CommandResult], *,
            runs: int, warmup: int, metric: str, ignore_failure: bool,
            progress: Callable[[str], None] | None) -> None:
    for _ in range(warmup):
        for argv in argvs:
            run_once_time(argv)
    for r in range(runs):
        order = list(range(len(argvs)))
        if r % 2:
            order.reverse()
        for i in order:
            if progress:
                progress(f"run {r + 1}/{runs}: {commands[i]}")
            if metric == "instructions":
                count, code = callgrind_instructions(argvs[i])
                results[i].values.append(count)
                results[i].exit_codes.append(code)
            else:
                wall, user, sys_s, code = run_once_time(argvs[i])
                results[i].values.append(wall)
                results[i].user_s.append(user)
                results[i].sys_s.append(sys_s)
                results[i].exit_codes.append(code)
            if code != 0 and not ignore_failure:
                raise CheckFailed(f"command {commands[i]!r} exited with {code}",
                                  hint="fix it, or pass --ignore-failure to time it anyway")


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime
