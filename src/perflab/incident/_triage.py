"""Triage: the checks an SRE runs first, over an incident's evidence, as ranked findings.

Order of the checks (and of this module): USE per resource (CPU, memory and PSI, disk,
network, file descriptors), RED per service (spans), what changed (deploys, a process that
started recently, benchmark regressions, load tests, chaos faults), then what the evidence
says about the suspects' insides (a CPU hot path in the profile, threads queued on one lock,
memory growing along a line). Each finding names the evidence steps it rests on and links to
the evidence, and has a score in [0, 1]; findings are ranked by score.

Scores encode how directly a finding names a cause rather than a symptom: a suspect's own
hot function, leak, lock queue, error burst or exhausted descriptors score high (0.7-0.95); a
machine-wide saturation (shared by everything on the host, so weak evidence against one
service) scores lower (0.3-0.6); context (a load test running, an alert firing) lowest. The
pure functions take the parsed evidence documents, so they are tested exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from perflab.incident._context import error_lines
from perflab.units import format_duration, format_size

if TYPE_CHECKING:
    from collections.abc import Mapping

    from perflab.incident._contracts import FindingCategory

NS = 1_000_000_000

# thresholds: far from a healthy service, near what the planted faults produce
HOT_CPU_CORES = 0.1          # a suspect using at least this much of a core (a busy shared
                             # machine may give a hot service little CPU time) ...
HOT_FUNCTION_SHARE = 15.0    # ... with one function at least this % of its CPU samples (flat)
LEAK_SLOPE_BYTES_PER_MIN = 4 * 1024**2
LEAK_R2 = 0.8
LEAK_MIN_SAMPLES = 8
LOCK_MIN_WAITERS = 3         # threads queued at one place
ERROR_RATIO = 0.05           # errors / requests in the recent window
LATENCY_RATIO = 2.0          # recent p95 / before p95 ...
LATENCY_MIN_MS = 20.0        # ... and at least this much slower
FD_USE = 0.8                 # open files / soft limit
MEM_AVAILABLE_MIN = 0.10
CPU_IDLE_MIN = 10.0
PSI_SOME = 20.0


@dataclass(frozen=True, slots=True)
class Finding:
    category: FindingCategory
    resource: str
    title: str
    detail: str
    score: float
    evidence: tuple[str, ...]
    link: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


def triage(evidence: Mapping[str, Any], links: Mapping[str, str],
           suspects: Mapping[str, Any]) -> list[Finding]:
    """Every finding the evidence supports, best first. ``evidence``: step name -> its parsed
    JSON; ``links``: step name -> where its evidence is shown."""
    found: list[Finding] = []
    system = evidence.get("system")
    if isinstance(system, dict):
        found += use_system(system)
    for pid in suspects.get("pids", []):
        found += use_process(pid, evidence.get(f"proc {pid}"))
        found += hot_path(pid, evidence.get(f"cpu-profile {pid}"),
                          evidence.get("process watch"))
        found += leak(pid, evidence.get("process watch"))
        found += lock_queue(pid, evidence.get(f"stacks {pid}"))
        found += restarted(pid, evidence.get(f"proc {pid}"), evidence.get("store context"))
    context = evidence.get("store context")
    if isinstance(context, dict):
        found += red(context, suspects)
        found += logs_burst(context)
        found += changes(context, suspects)
    regressions = evidence.get("bench regressions")
    if isinstance(regressions, dict):
        found += bench_regressions(regressions)
    out = [Finding(f.category, f.resource, f.title, f.detail, round(f.score, 3), f.evidence,
                   f.link or _link(f.evidence, links), f.attrs) for f in found]
    return sorted(out, key=lambda f: -f.score)


def _link(steps: tuple[str, ...], links: Mapping[str, str]) -> str:
    return next((links[s] for s in steps if s in links), "")


# -- USE: the machine -------------------------------------------------------------------------


def use_system(top: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    cpu = top.get("cpu", {}).get("all", {})
    psi = top.get("psi") or {}

    def some(resource: str) -> float:
        return float(((psi.get(resource) or {}).get("some") or {}).get("avg10", 0.0))

    if cpu and float(cpu.get("idle", 100.0)) < CPU_IDLE_MIN:
        out.append(Finding("use", "cpu", f"CPU saturated: {100 - cpu['idle']:.0f} % busy",
                           f"load {top.get('load', {}).get('load1', 0):g}, CPU pressure (PSI"
                           f" some avg10) {some('cpu'):.0f} %; machine-wide, shared by every"
                           " process", 0.3 + min(0.2, some("cpu") / 500), ("system",)))
    mem = top.get("memory") or {}
    total, avail = float(mem.get("total_bytes", 0)), float(mem.get("available_bytes", 0))
    if total and avail / total < MEM_AVAILABLE_MIN:
        out.append(Finding("use", "memory", f"memory nearly exhausted: {format_size(avail)}"
                           f" of {format_size(total)} available",
                           f"memory pressure {some('memory'):.0f} %", 0.6, ("system",)))
    elif some("memory") > PSI_SOME:
        out.append(Finding("use", "memory", f"memory pressure: {some('memory'):.0f} % of time"
                           " stalled", "PSI memory some avg10", 0.5, ("system",)))
    out.extend(
        Finding("use", f"disk {d['device']}", f"disk {d['device']} saturated:"
                f" {d['util_pct']:.0f} % busy",
                f"await r {d['r_await_ms']:.1f} ms, w {d['w_await_ms']:.1f} ms;"
                f" I/O pressure {some('io'):.0f} %", 0.45, ("system",))
        for d in top.get("disks", [])
        if d.get("util_pct", 0) > 90 or max(d.get("r_await_ms", 0), d.get("w_await_ms", 0)) > 100)
    tcp = top.get("tcp") or {}
    if tcp.get("listen_overflows_per_s", 0) > 0:
        out.append(Finding("use", "network", "TCP accept queues overflow: "
                           f"{tcp['listen_overflows_per_s']:.1f}/s",
                           "a listener does not accept connections as fast as they come",
                           0.55, ("system", "net")))
    if tcp.get("retrans_per_s", 0) > 10:
        out.append(Finding("use", "network", f"TCP retransmits {tcp['retrans_per_s']:.0f}/s",
                           "packet loss or a saturated link", 0.4, ("system", "net")))
    out.extend(
        Finding("use", f"network {n['device']}", f"{n['device']}: errors or drops",
                f"{n['errors_per_s']:.1f} errors/s, {n['drops_per_s']:.1f} drops/s", 0.4,
                ("system",))
        for n in top.get("networks", []) if n.get("errors_per_s", 0) + n.get("drops_per_s", 0) > 1)
    return out


# -- USE: a suspect ---------------------------------------------------------------------------


def use_process(pid: int, proc: Any) -> list[Finding]:
    if not isinstance(proc, dict):
        return []
    limits = {lim.get("name"): lim for lim in proc.get("process", {}).get("limits", [])}
    soft = (limits.get("Max open files") or {}).get("soft")
    files = proc.get("files")
    if not soft or not isinstance(files, list):
        return []
    use = len(files) / soft
    if use < FD_USE:
        return []
    return [Finding("use", f"fds {pid}", f"PID {pid} uses {len(files)} of {soft} file"
                    " descriptors", "new sockets and files fail with EMFILE at the limit",
                    0.7 + 0.2 * min(1.0, (use - FD_USE) / (1 - FD_USE)), (f"proc {pid}",))]


def _cpu_cores(pid: int, watch: Any) -> float | None:
    rows = _watch_rows(pid, watch)
    if len(rows) < 2 or rows[-1][0] <= rows[0][0]:
        return None
    return (rows[-1][2] - rows[0][2]) / ((rows[-1][0] - rows[0][0]) / NS)


def _watch_rows(pid: int, watch: Any) -> list[list[float]]:
    if not isinstance(watch, dict):
        return []
    proc = watch.get("processes", {}).get(str(pid)) or {}
    return list(proc.get("samples", []))


def hot_path(pid: int, profile: Any, watch: Any) -> list[Finding]:
    """A CPU hot path: the suspect is busy and one function holds much of its CPU samples."""
    cores = _cpu_cores(pid, watch)
    if cores is None or cores < HOT_CPU_CORES:
        return []
    top = profile.get("top", []) if isinstance(profile, dict) else []
    # a thread blocked in a read or a poll can be sampled as active: not a hot path
    working = [r for r in top if str(r.get("name", "")).rsplit(".", 1)[-1] not in _IDLE_FUNCTIONS]
    best = max(working, key=lambda r: r.get("flat_pct", 0.0), default=None)
    if best is None or best.get("flat_pct", 0.0) < HOT_FUNCTION_SHARE:
        return [Finding("use", f"cpu {pid}", f"PID {pid} uses {cores:.0%} of a core",
                        "no one function dominates its profile", 0.45 + min(0.2, cores / 5),
                        ("process watch", f"cpu-profile {pid}"))]
    share = float(best["flat_pct"])
    return [Finding("profile", f"cpu {pid}", f"CPU hot path in PID {pid}: {best['name']}"
                    f" takes {share:.0f} % of its CPU", f"the process uses {cores:.0%} of a"
                    f" core; {best['name']} is {share:.0f} % of the samples by itself"
                    f" ({best.get('cum_pct', share):.0f} % with its callees)",
                    0.7 + 0.25 * share / 100,
                    (f"cpu-profile {pid}", "process watch"), attrs={"function": best["name"]})]


def leak(pid: int, watch: Any) -> list[Finding]:
    """Resident memory growing along a straight line while the capture ran: over the whole
    capture, or over its first or second half (a leak that reached a cap, or started late)."""
    rows = _watch_rows(pid, watch)
    if len(rows) < LEAK_MIN_SAMPLES:
        return []
    half = len(rows) // 2
    fits = [f for part in (rows, rows[:half], rows[half:]) if (f := _line(part)) is not None]
    fits = [f for f in fits if f[0] >= LEAK_SLOPE_BYTES_PER_MIN and f[1] >= LEAK_R2]
    if not fits:
        return []
    slope, r2, n = max(fits, key=lambda f: f[0])
    return [Finding("use", f"memory {pid}", f"PID {pid} leaks memory: resident memory grows"
                    f" {format_size(slope)}/min", f"a straight line through {n} samples"
                    f" (r² {r2:.2f}), now {format_size(rows[-1][1])}",
                    0.75 + 0.2 * min(1.0, r2), ("process watch",),
                    attrs={"slope_bytes_per_min": slope, "r2": r2})]


def _line(rows: list[list[float]]) -> tuple[float, float, int] | None:
    """(slope in bytes per minute, r², samples) of resident memory over time, or None."""
    if len(rows) < LEAK_MIN_SAMPLES // 2:
        return None
    t = np.array([r[0] for r in rows], dtype=np.float64) / NS / 60
    rss = np.array([r[1] for r in rows], dtype=np.float64)
    if float(np.ptp(t)) <= 0 or float(np.ptp(rss)) <= 0:
        return None
    slope, _ = np.polyfit(t, rss, 1)
    return float(slope), float(np.corrcoef(t, rss)[0, 1] ** 2), len(rows)


_IDLE_FUNCTIONS = frozenset({"select", "poll", "accept", "_accept", "serve_forever", "wait",
                             "_wait_for_tstate_lock", "get", "readinto", "recv_into", "sleep",
                             "_worker", "handle_request", "_handle_request_noblock", "epoll",
                             "main", "<module>", "run"})


def lock_queue(pid: int, stacks: Any) -> list[Finding]:
    """Threads queued at one place: the lock they wait for (the agent's or py-spy's guess), or
    the same innermost line of several idle threads in the program's own code."""
    if not isinstance(stacks, dict):
        return []
    threads = [t for t in stacks.get("threads", []) if isinstance(t, dict)]
    groups: dict[str, list[dict[str, Any]]] = {}
    for t in threads:
        frames = t.get("frames") or [{}]
        top = frames[0]
        if not t.get("waits_for") and (t.get("active") is not False
                                        or t.get("function") in _IDLE_FUNCTIONS):
            continue
        key = (f"{t.get('function')} ({Path(str(top.get('file', '?'))).name}:"
               f"{top.get('line', '?')})")
        groups.setdefault(key, []).append(t)
    if not groups:
        return []
    where, waiting = max(groups.items(), key=lambda kv: len(kv[1]))
    if len(waiting) < LOCK_MIN_WAITERS:
        return []
    deadlocks = stacks.get("deadlocks") or []
    locks = sorted({str(t["waits_for"]) for t in waiting if t.get("waits_for")})
    return [Finding("stacks", f"threads {pid}", f"lock contention in PID {pid}:"
                    f" {len(waiting)} threads queue at {where}", f"{len(waiting)} of"
                    f" {len(threads)} threads wait at the same place"
                    + (f" for {', '.join(locks)}" if locks else "") + ": serialisation"
                    + (f"; {len(deadlocks)} deadlock(s)" if deadlocks else ""),
                    min(0.95, 0.6 + 0.04 * len(waiting) + (0.2 if deadlocks else 0.0)),
                    (f"stacks {pid}",), attrs={"where": where, "threads": len(waiting)})]


def restarted(pid: int, proc: Any, context: Any) -> list[Finding]:
    """A suspect that started within the window: a new version, a crash loop, a restart."""
    if not isinstance(proc, dict) or not isinstance(context, dict):
        return []
    started = proc.get("process", {}).get("start_time_ns")
    lo, hi = context.get("window", [0, 0])
    if not isinstance(started, int) or not lo <= started <= hi:
        return []
    return [Finding("change", f"process {pid}", f"PID {pid} started"
                    f" {format_duration((hi - started) / NS)} before the incident",
                    "a new version, a restart or a crash loop", 0.45, (f"proc {pid}",))]


# -- RED per service, logs --------------------------------------------------------------------


def red(context: Mapping[str, Any], suspects: Mapping[str, Any]) -> list[Finding]:
    """Errors and latency per service, recent against before; along the call edges the
    service where a problem starts (it has it, the services it calls do not) ranks above
    those it spreads to (they have it because a callee does)."""
    erring: dict[str, Finding] = {}
    slower: dict[str, Finding] = {}
    for service, windows in context.get("red", {}).items():
        now, before = windows.get("recent"), windows.get("before")
        if not now or not now.get("count"):
            continue
        ratio = now["errors"] / now["count"]
        before_ratio = before["errors"] / before["count"] if before and before["count"] else 0.0
        if ratio >= ERROR_RATIO and ratio >= 3 * before_ratio:
            erring[service] = Finding(
                "red", f"service {service}", f"{service}: errors at {ratio:.0%} of requests",
                f"{now['errors']} of {now['count']} in the last {now['seconds']:.0f} s"
                f" (before: {before_ratio:.1%})", 0.7 + 0.1 * min(1.0, ratio),
                ("store context",), attrs={"service": service})
        if before and before.get("count") and now["p95_ms"] >= LATENCY_RATIO * before["p95_ms"] \
                and now["p95_ms"] - before["p95_ms"] >= LATENCY_MIN_MS:
            slower[service] = Finding(
                "red", f"service {service}", f"{service}: p95 latency"
                f" {before['p95_ms']:.0f} → {now['p95_ms']:.0f} ms",
                f"slowest operation {now['slowest_operation']}"
                f" (p95 {now['slowest_operation_p95_ms']:.0f} ms)", 0.65, ("store context",),
                attrs={"service": service})
    edges = [(a, b) for a, b, *_ in context.get("edges", [])]
    del suspects
    return (_along_edges(erring, edges, "errors start here", "errors from")
            + _along_edges(slower, edges, "slow downstream", "waits on"))


def _along_edges(found: dict[str, Finding], edges: list[tuple[str, str]], origin: str,
                 spread: str) -> list[Finding]:
    out = []
    for service, f in found.items():
        callers = sorted({a for a, b in edges if b == service and a in found})
        callees = sorted({b for a, b in edges if a == service and b in found})
        if callers and not callees:
            out.append(Finding(f.category, f.resource, f"{origin}: {f.title}", f.detail
                               + f"; its callers {', '.join(callers)} show it too",
                               f.score + 0.2, f.evidence, attrs=f.attrs))
        elif callees:
            out.append(Finding(f.category, f.resource, f.title, f.detail
                               + f"; {spread} {', '.join(callees)}", f.score - 0.1,
                               f.evidence, attrs=f.attrs))
        else:
            out.append(f)
    return out


def logs_burst(context: Mapping[str, Any]) -> list[Finding]:
    logs = context.get("logs") or {}
    now, before = error_lines(logs.get("recent", {})), error_lines(logs.get("before", {}))
    now_rate = now / max(1.0, logs.get("recent_s", 1.0))
    before_rate = before / max(1.0, logs.get("before_s", 1.0))
    if now < 10 or now_rate < 5 * before_rate:
        return []
    return [Finding("logs", "logs", f"error log lines: {now_rate:.1f}/s", f"{now} error lines"
                    f" in the last {logs.get('recent_s', 0):.0f} s, {before_rate:.2f}/s before",
                    0.75, ("store context",))]


# -- what changed -----------------------------------------------------------------------------


def changes(context: Mapping[str, Any], suspects: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    end = context.get("window", [0, 0])[1]
    services = set(suspects.get("services", []))
    for d in context.get("deploys", []):
        ago = (end - d["ts_ns"]) / NS
        score = 0.35 + 0.15 * max(0.0, 1 - ago / 3600) + (0.2 if d["service"] in services else 0)
        out.append(Finding("change", f"service {d['service']}", f"deploy of {d['service']}"
                           f" {d['version']} {format_duration(ago)} before",
                           "what changed last is the first suspect", score, ("store context",),
                           link=f"/runs/{d['run_id']}"))
    for a in context.get("alerts", []):
        if not a["text"].endswith("firing"):
            continue
        critical = a.get("labels", {}).get("severity") == "critical"
        out.append(Finding("alert", "alerts", a["text"], ", ".join(
            f"{k}={v}" for k, v in sorted(a.get("labels", {}).items())),
            0.4 + (0.1 if critical else 0), ("store context",), link=f"/runs/{a['run_id']}"))
    out.extend(
        Finding("change", "chaos", f"chaos fault: {f['text']}", "injected on"
                           " purpose during the window", 0.6, ("store context",),
                           link=f"/runs/{f['run_id']}")
        for f in context.get("faults", []))
    out.extend(
        Finding("change", "traffic", f"load test {r['name']} ({r['status']})",
                           "synthetic traffic during the window", 0.3, ("store context",),
                           link=f"/runs/{r['id']}")
        for r in context.get("load_runs", []))
    return out


def bench_regressions(doc: Mapping[str, Any]) -> list[Finding]:
    return [Finding("change", f"bench {c['bench']}", f"benchmark regression: {c['bench']}"
                    f" {c['rel_change']:+.0%} at {c['to_commit'][:12]}",
                    f"{c['mean_before']:.4g} → {c['mean_after']:.4g} {c['unit']}", 0.4,
                    ("bench regressions",))
            for c in doc.get("changes", []) if c.get("verdict") == "regression"]
