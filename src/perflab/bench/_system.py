"""``perflab bench system``: what on this machine makes benchmark numbers noisy, and the fix.

Every check reads /proc and /sys under injectable roots, so tests run it on a fake tree.
Each finding has a level (``ok``, ``warn``, ``info``), what was seen, why it matters and the
command that fixes it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from perflab.bench._contracts import BenchSystemFinding
from perflab.collect import ProcessCollector


@dataclass(frozen=True)
class Finding:
    check: str
    level: Literal["ok", "warn", "info"]
    seen: str
    why: str = ""
    fix: str = ""

    def to_json(self) -> BenchSystemFinding:
        return {"check": self.check, "level": self.level, "seen": self.seen, "why": self.why,
                "fix": self.fix}


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def check_governor(sys_root: Path) -> Finding:
    cpus = sorted((sys_root / "devices/system/cpu").glob("cpu[0-9]*"))
    govs = {g for c in cpus if (g := _read(c / "cpufreq/scaling_governor"))}
    if not govs:
        return Finding("cpu governor", "info", "no cpufreq interface (a VM or container?)",
                       "the host decides frequencies; results vary with its load",
                       "prefer --metric instructions, or compare runs interleaved")
    if govs == {"performance"}:
        return Finding("cpu governor", "ok", "performance on every CPU")
    return Finding("cpu governor", "warn", "governor " + ", ".join(sorted(govs)),
                   "the frequency follows the load, so the same code runs at different speeds",
                   "sudo cpupower frequency-set -g performance")


def check_turbo(sys_root: Path) -> Finding:
    no_turbo = _read(sys_root / "devices/system/cpu/intel_pstate/no_turbo")
    boost = _read(sys_root / "devices/system/cpu/cpufreq/boost")
    if no_turbo is None and boost is None:
        return Finding("turbo boost", "info", "no turbo control exposed")
    if no_turbo == "1" or boost == "0":
        return Finding("turbo boost", "ok", "disabled")
    fix = ("echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo"
           if no_turbo is not None else
           "echo 0 | sudo tee /sys/devices/system/cpu/cpufreq/boost")
    return Finding("turbo boost", "warn", "enabled",
                   "turbo frequency depends on temperature and on how many cores are busy", fix)


def check_aslr(proc_root: Path) -> Finding:
    value = _read(proc_root / "sys/kernel/randomize_va_space")
    if value is None:
        return Finding("ASLR", "info", "unknown")
    if value == "0":
        return Finding("ASLR", "ok", "disabled")
    return Finding("ASLR", "info", f"randomize_va_space={value}",
                   "address layout changes cache and branch-predictor behaviour between runs; "
                   "perflab spreads values over several processes to sample it",
                   "to pin it for one run: setarch -R <command>")


def check_load(proc_root: Path, ncpu: int) -> Finding:
    text = _read(proc_root / "loadavg")
    if not text:
        return Finding("load", "info", "unknown")
    load1 = float(text.split()[0])
    if load1 >= 0.5 * ncpu:
        return Finding("load", "warn", f"load average {load1:.2f} on {ncpu} CPUs",
                       "other work competes for the CPUs and caches while you measure",
                       "wait for an idle machine, or stop the busy processes listed below")
    return Finding("load", "ok", f"load average {load1:.2f} on {ncpu} CPUs")


def check_busy_processes(proc_root: Path, *, interval: float = 0.5,
                         threshold_pct: float = 10.0) -> Finding:
    collector = ProcessCollector(proc_root, with_io=False, with_fds=False)
    collector.refresh()
    time.sleep(interval)
    me = os.getpid()
    busy = sorted((r for r in collector.refresh() if r.cpu_pct >= threshold_pct
                   and r.pid != me), key=lambda r: -r.cpu_pct)
    if not busy:
        return Finding("busy processes", "ok", f"none above {threshold_pct:.0f}% CPU")
    names = ", ".join(f"{r.name}[{r.pid}] {r.cpu_pct:.0f}%" for r in busy[:5])
    return Finding("busy processes", "warn", names,
                   "they take CPU time and cache from the benchmark",
                   "stop them while measuring, or pin the benchmark with taskset -c N")


def check_virtualised(proc_root: Path) -> Finding:
    cpuinfo = _read(proc_root / "cpuinfo") or ""
    flags = next((ln for ln in cpuinfo.splitlines() if ln.startswith("flags")), "")
    if " hypervisor" in flags:
        return Finding("virtual machine", "info", "running under a hypervisor",
                       "steal time and noisy neighbours add noise no setting here removes",
                       "use --metric instructions in CI, or a dedicated runner")
    return Finding("virtual machine", "ok", "bare metal (no hypervisor flag)")


def check_smt(sys_root: Path) -> Finding:
    active = _read(sys_root / "devices/system/cpu/smt/active")
    if active is None:
        return Finding("SMT", "info", "unknown")
    if active == "1":
        return Finding("SMT", "info", "hyper-threading on",
                       "a sibling thread shares the core's caches and ports with the benchmark",
                       "echo off | sudo tee /sys/devices/system/cpu/smt/control")
    return Finding("SMT", "ok", "off")


def check_all(*, proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys"),
              interval: float = 0.5) -> list[Finding]:
    ncpu = os.cpu_count() or 1
    return [
        check_governor(sys_root),
        check_turbo(sys_root),
        check_smt(sys_root),
        check_aslr(proc_root),
        check_virtualised(proc_root),
        check_load(proc_root, ncpu),
        check_busy_processes(proc_root, interval=interval),
    ]
