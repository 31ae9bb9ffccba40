"""``perflab top --json``: the view as one JSON document, schema ``perflab.top/1``
(docs/schemas/top.schema.json). Rates are per second over ``interval_s``; sizes in bytes.

History: 1 — first version.
"""

from __future__ import annotations

from typing import Final

from perflab.top._contracts import (
    TopCpuLine,
    TopDisk,
    TopDoc,
    TopPsi,
    TopPsiLine,
    TopPsiResource,
)
from perflab.top._model import CpuLine, DiskLine, PsiView, TopView

SCHEMA: Final = "perflab.top/1"


def view_to_json(view: TopView) -> TopDoc:
    """The document of ``top --json``: everything the screen shows, unrounded."""
    m, o = view.mem, view.options
    return {
        "schema": SCHEMA,
        "ts_ns": view.ts_ns,
        "interval_s": view.interval_s,
        "hostname": view.hostname,
        "uptime_s": view.uptime_s,
        "options": {"sort": o.sort, "filter": o.filter, "tree": o.tree},
        "cpu": {
            "all": _cpu(view.cpu_all),
            "cores": {c.name: _cpu(c) for c in view.cpu_cores},
        },
        "load": {"load1": view.load[0], "load5": view.load[1], "load15": view.load[2]},
        "procs_running": view.procs_running,
        "procs_blocked": view.procs_blocked,
        "threads": view.threads,
        "context_switches_per_s": view.context_switches_s,
        "memory": {
            "total_bytes": m.total, "available_bytes": m.available, "cache_bytes": m.cache,
            "dirty_bytes": m.dirty, "swap_total_bytes": m.swap_total,
            "swap_used_bytes": m.swap_used, "swap_in_bytes_per_s": m.swap_in_s,
            "swap_out_bytes_per_s": m.swap_out_s,
        },
        "psi": _psi(view.psi) if view.psi else None,
        "disks": [_disk(d) for d in view.disks],
        "networks": [
            {"device": n.device, "virtual": n.virtual, "rx_bytes_per_s": n.rx_bytes_s,
             "tx_bytes_per_s": n.tx_bytes_s, "rx_packets_per_s": n.rx_packets_s,
             "tx_packets_per_s": n.tx_packets_s, "errors_per_s": n.errs_s,
             "drops_per_s": n.drops_s}
            for n in view.nets
        ],
        "tcp": {
            "established": view.tcp.established, "time_wait": view.tcp.time_wait,
            "retrans_per_s": view.tcp.retrans_s,
            "listen_overflows_per_s": view.tcp.listen_overflows_s,
        },
        "process_count": view.process_count,
        "processes": [{**p.row.to_json(), "depth": p.depth} for p in view.processes],
    }


def _psi(lines: tuple[PsiView, ...]) -> TopPsi:
    """PSI per resource: the three the collector reads (cpu, memory, io)."""
    out: TopPsi = {}
    for p in lines:
        full: TopPsiLine | None = None
        if p.full10 is not None and p.full60 is not None and p.full300 is not None:
            full = {"avg10": p.full10, "avg60": p.full60, "avg300": p.full300}
        line: TopPsiResource = {
            "some": {"avg10": p.some10, "avg60": p.some60, "avg300": p.some300}, "full": full}
        if p.resource == "cpu":
            out["cpu"] = line
        elif p.resource == "memory":
            out["memory"] = line
        elif p.resource == "io":
            out["io"] = line
    return out


def _disk(line: DiskLine) -> TopDisk:
    d = line.rates
    return {"device": line.device, "r_per_s": d.r_s, "w_per_s": d.w_s, "rkb_per_s": d.rkb_s,
            "wkb_per_s": d.wkb_s, "r_await_ms": d.r_await_ms, "w_await_ms": d.w_await_ms,
            "aqu_sz": d.aqu_sz, "util_pct": d.util_pct}


def _cpu(c: CpuLine) -> TopCpuLine:
    return {"user": c.user, "nice": c.nice, "system": c.system, "iowait": c.iowait, "irq": c.irq,
            "softirq": c.softirq, "steal": c.steal, "idle": c.idle}
