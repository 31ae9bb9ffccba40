"""``perflab chaos net``: packet loss, rate limits, partitions and delay, on ``lo`` or in a
namespace perflab created, never on another interface.

Mechanisms, chosen by what the kernel has (the command says which it used):

- **netem** (``sch_netem``) when the kernel has it: loss and delay as a root qdisc, and what only
  netem can do, in a namespace: delay with jitter or reordering, Gilbert-Elliott (bursty) loss,
  duplication and corruption (refused, naming netem, on a kernel without it);
- **loss** without netem: an nftables rule ``numgen random mod 10000 < N drop`` (N in
  hundredths of a percent), for each packet crossing the link in either direction;
- **partition**: nftables drop rules, both directions;
- **rate**: a tbf qdisc on both ends of the namespace's veth pair (``lo`` has no per-port
  qdisc here: a rate on loopback is refused, use a namespace);
- **delay** without netem: the fault proxy's latency toxic (``--proxy NAME``: a proxy of
  ``perflab chaos proxy``); a delay on traffic that does not pass a proxy is refused.

On ``lo`` every rule is limited to ``--port`` (required): loopback carries the whole machine's
local traffic. Each fault has its own nftables table, ``perflab_chaos_<id>``, so deleting it
removes exactly its rules; the journal holds that table and the qdiscs, and the rollback (or
the watchdog) deletes them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from perflab.chaos._contracts import RECORDED_HEADER
from perflab.chaos.faults._journal import new_fault_id
from perflab.chaos.faults._netns import PREFIX, get_netns, require_root, require_tools
from perflab.chaos.faults._session import FaultSession
from perflab.chaos.faults._undo import in_netns, run_quiet
from perflab.errors import InvalidValue, TargetError, Unreachable
from perflab.units import format_duration

if TYPE_CHECKING:
    from perflab.chaos.faults._contracts import NetFaultDoc

NetFault = Literal["loss", "rate", "partition", "delay", "duplicate", "corrupt", "gemodel"]
NETEM_ONLY = ("duplicate", "corrupt", "gemodel")  # faults no other mechanism gives
DEFAULT_PROXY_API = "http://127.0.0.1:8474"
TC_HANDLE = "7a1:"  # perflab's root qdiscs


@dataclass(frozen=True)
class NetSpec:
    fault: NetFault
    duration_s: float
    loss: float | None = None      # fraction, 0.01 for 1 %
    rate_bps: int | None = None    # bits per second
    delay_s: float | None = None
    jitter_s: float | None = None  # with delay: netem's jitter, or the latency toxic's
    reorder: float | None = None   # with delay: this share goes at once (netem only)
    duplicate: float | None = None
    corrupt: float | None = None
    gemodel: tuple[float, ...] | None = None  # netem's p, r[, 1-h[, 1-k]], fractions
    port: int | None = None
    netns: str | None = None       # a perflab namespace's NAME (without the prefix)
    iface: str = "lo"
    proxy: str | None = None
    proxy_api: str = DEFAULT_PROXY_API

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"duration_s": self.duration_s}
        for key in ("loss", "rate_bps", "delay_s", "jitter_s", "reorder", "duplicate", "corrupt",
                    "gemodel", "port", "netns", "proxy"):
            if getattr(self, key) is not None:
                value = getattr(self, key)
                out[key] = list(value) if isinstance(value, tuple) else value
        if self.netns is None and self.proxy is None:
            out["iface"] = self.iface
        return out


@dataclass(frozen=True)
class Scope:
    """Where the rules go: the namespace (``netns`` for ip netns exec) and its devices."""

    netns: str | None
    ns_if: str            # the link to act on (lo, or the inside end of the veth pair)
    host_if: str | None   # the host end, for rate
    label: str


def _scope(spec: NetSpec) -> Scope:
    if spec.netns is not None:
        doc = get_netns(spec.netns)
        return Scope(doc["netns"], doc["ns_if"], doc["host_if"], f"namespace {doc['netns']}")
    if spec.iface != "lo":
        raise InvalidValue(f"perflab does not inject network faults on {spec.iface!r}",
                           hint="faults act on lo (with --port) or in a namespace perflab "
                                "created: perflab chaos netns create NAME, then --netns NAME")
    if spec.port is None:
        raise InvalidValue("a fault on lo needs --port",
                           hint="loopback carries all of this machine's local traffic: "
                                "limit the fault to the service's port, e.g. --port 8080")
    return Scope(None, "lo", None, f"lo port {spec.port}")


def netem_available() -> bool:
    """Whether the kernel has netem: load its module where modprobe exists, then try it on
    the loopback of a throwaway namespace (nothing real is touched)."""
    if shutil.which("modprobe") is not None:
        run_quiet(["modprobe", "-q", "sch_netem"])
    probe = f"{PREFIX}probe-{new_fault_id()}"
    if run_quiet(["ip", "netns", "add", probe]).returncode != 0:
        return False
    try:
        out = run_quiet(["ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo",
                         "root", "netem", "delay", "1ms"])
        return out.returncode == 0
    finally:
        run_quiet(["ip", "netns", "del", probe])


def _run(argv: list[str], what: str) -> None:
    out = run_quiet(argv)
    if out.returncode != 0:
        raise TargetError(f"{what} failed: {out.stderr.strip() or out.stdout.strip()}",
                          hint=f"the command was: {' '.join(argv)}")


def _nft_table(fault: FaultSession, scope: Scope, drops: list[tuple[str, str]]) -> str:
    """A table of drop rules at the top of input and output; journaled before it exists."""
    table = f"perflab_chaos_{fault.journal.fault_id}"
    fault.journal.add({"op": "nft_delete", "family": "inet", "table": table,
                       "netns": scope.netns})
    rules = "\n".join(f"add rule inet {table} {chain} {rule}" for chain, rule in drops)
    script = (f"add table inet {table}\n"
              f"add chain inet {table} input {{ type filter hook input priority -300; }}\n"
              f"add chain inet {table} output {{ type filter hook output priority -300; }}\n"
              f"{rules}\n")
    argv = in_netns(scope.netns, ["nft", "-f", "-"])
    out = subprocess.run(argv, input=script, capture_output=True, text=True,  # noqa: S603
                         check=False, timeout=20)
    if out.returncode != 0:
        raise TargetError(f"nft refused the rules: {out.stderr.strip()}",
                          hint="the kernel needs nf_tables (and nft_numgen for loss)")
    return table


def _matches(scope: Scope, spec: NetSpec) -> list[tuple[str, str]]:
    """(chain, match) pairs selecting the fault's packets, both directions."""
    if scope.netns is not None:
        return [("input", f'iifname "{scope.ns_if}"'), ("output", f'oifname "{scope.ns_if}"')]
    port = spec.port
    return [("input", f'iifname "lo" meta l4proto {{ tcp, udp }} th dport {port}'),
            ("input", f'iifname "lo" meta l4proto {{ tcp, udp }} th sport {port}')]


def _tc_add(fault: FaultSession, scope: Scope, dev: str, netns: str | None,
            qdisc: list[str]) -> None:
    fault.journal.add({"op": "tc_delete", "dev": dev, "netns": netns, "handle": TC_HANDLE})
    _run(in_netns(netns, ["tc", "qdisc", "add", "dev", dev, "root", "handle", TC_HANDLE,
                          *qdisc]), f"tc on {dev} ({scope.label})")


def _tbf(rate_bps: int) -> list[str]:
    # a burst of 10 ms at the rate, at least a few full-size packets
    burst = max(rate_bps // 8 // 100, 4 * 1514)
    return ["tbf", "rate", f"{rate_bps}bit", "burst", str(burst), "latency", "400ms"]


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def netem_args(spec: NetSpec) -> list[str]:
    """The netem qdisc for a delay (with its jitter and reordering), a duplication, a
    corruption or a Gilbert-Elliott loss, in tc-netem(8)'s words."""
    if spec.fault == "delay":
        assert spec.delay_s is not None  # check_net
        args = ["netem", "delay", f"{spec.delay_s * 1000:g}ms"]
        if spec.jitter_s:
            args.append(f"{spec.jitter_s * 1000:g}ms")
        if spec.reorder:
            args += ["reorder", _pct(spec.reorder)]
        return args
    if spec.fault == "gemodel":
        assert spec.gemodel is not None  # check_net
        return ["netem", "loss", "gemodel", *(_pct(v) for v in spec.gemodel)]
    share = spec.duplicate if spec.fault == "duplicate" else spec.corrupt
    assert share is not None  # check_net
    return ["netem", spec.fault, _pct(share)]


def _apply(fault: FaultSession, spec: NetSpec, scope: Scope, netem: bool) -> str:
    if spec.fault == "partition":
        table = _nft_table(fault, scope, [(c, f"{m} drop") for c, m in _matches(scope, spec)])
        return f"nftables table {table}: every packet dropped ({scope.label})"
    if spec.fault == "loss":
        assert spec.loss is not None  # check_net
        if netem and scope.netns is not None:
            pct = f"{spec.loss * 100:g}%"
            _tc_add(fault, scope, scope.ns_if, scope.netns, ["netem", "loss", pct])
            assert scope.host_if is not None
            _tc_add(fault, scope, scope.host_if, None, ["netem", "loss", pct])
            return f"netem loss {pct} on both ends of the veth pair ({scope.label})"
        n = round(spec.loss * 10_000)
        rule = f"numgen random mod 10000 < {n} drop" if n < 10_000 else "drop"
        drops = [(c, f"{m} {rule}") for c, m in _matches(scope, spec)]
        table = _nft_table(fault, scope, drops)
        return (f"nftables table {table}: {rule}, each direction "
                f"({scope.label})" + ("" if netem else "; this kernel has no netem"))
    if spec.fault == "rate":
        assert spec.rate_bps is not None  # check_net
        assert scope.host_if is not None
        _tc_add(fault, scope, scope.ns_if, scope.netns, _tbf(spec.rate_bps))
        _tc_add(fault, scope, scope.host_if, None, _tbf(spec.rate_bps))
        return f"tbf rate {spec.rate_bps}bit on both ends of the veth pair ({scope.label})"
    assert scope.host_if is not None  # check_net: netem in a namespace
    qdisc = netem_args(spec)
    _tc_add(fault, scope, scope.ns_if, scope.netns, qdisc)
    if spec.fault == "delay":
        return f"{' '.join(qdisc)} on the way out of the namespace ({scope.label})"
    _tc_add(fault, scope, scope.host_if, None, qdisc)
    return f"{' '.join(qdisc)} on both ends of the veth pair ({scope.label})"


def _proxy_delay(fault: FaultSession, spec: NetSpec) -> str:
    """A latency toxic on a proxy of the fault proxy, removed by the rollback (and by its own
    ``duration`` should everything else fail)."""
    assert spec.delay_s is not None  # check_net
    assert spec.proxy is not None
    name = f"perflab_net_{fault.journal.fault_id}"
    base = f"{spec.proxy_api.rstrip('/')}/proxies/{spec.proxy}/toxics"
    fault.journal.add({"op": "http_delete", "url": f"{base}/{name}"})
    body = json.dumps({"name": name, "type": "latency", "stream": "downstream",
                       "attributes": {"latency": round(spec.delay_s * 1000),
                                      "jitter": round((spec.jitter_s or 0) * 1000)},
                       "duration": f"{round(spec.duration_s * 1000) + 5000}ms"}).encode()
    req = urllib.request.Request(base, data=body, method="POST",  # noqa: S310  # loopback
                                 headers={"Content-Type": "application/json",
                                          # this fault's band is on the timeline already
                                          RECORDED_HEADER: "band"})
    try:
        with urllib.request.urlopen(req, timeout=5):  # noqa: S310
            pass
    except urllib.error.HTTPError as exc:
        raise TargetError(f"the fault proxy refused the latency toxic: {exc.read()[:200]!r}",
                          hint=f"does proxy {spec.proxy!r} exist? see {spec.proxy_api}/proxies"
                          ) from exc
    except OSError as exc:
        raise Unreachable(f"no fault proxy API at {spec.proxy_api}: {exc}",
                          hint="start it: perflab chaos proxy") from exc
    jitter = f" +- {format_duration(spec.jitter_s)}" if spec.jitter_s else ""
    return (f"fault proxy {spec.proxy_api}: latency toxic {name} of {format_duration(spec.delay_s)}"
            f"{jitter} on proxy {spec.proxy}")


def check_net(spec: NetSpec) -> tuple[Scope | None, bool]:
    """Refuse what cannot be done before anything changes; returns the scope and netem."""
    if spec.duration_s <= 0:
        raise InvalidValue("a network fault needs --duration",
                           hint="every fault is bounded in time, e.g. --duration 30s")
    _check_shares(spec)
    if spec.fault == "delay" and spec.proxy is not None:
        if spec.reorder:
            raise InvalidValue("the fault proxy cannot reorder packets: --reorder needs netem",
                               hint="on a kernel with netem, give --netns NAME instead of "
                                    "--proxy")
        return None, False
    require_root("net")
    require_tools("ip", "tc", "nft")
    scope = _scope(spec)
    netem = netem_available()
    if spec.fault == "rate" and scope.netns is None:
        raise InvalidValue("a rate limit on lo is not supported",
                           hint="run the service in a namespace (perflab chaos netns create "
                                "NAME; netns run NAME -- CMD) and give --netns NAME")
    if spec.fault in NETEM_ONLY or spec.reorder:
        _need_netem(spec, scope, netem)
    if spec.fault == "delay" and not (netem and scope.netns is not None):
        why = ("this kernel has no netem (sch_netem)" if not netem
               else "netem on lo would delay the whole machine's loopback")
        raise InvalidValue(f"a delay on traffic that does not pass the fault proxy is not "
                           f"possible: {why}",
                           hint="put `perflab chaos proxy` in front of the service and give "
                                "--proxy NAME (its latency toxic delays the traffic)")
    return scope, netem


def _check_shares(spec: NetSpec) -> None:
    """Each share above 0 and at most 100 %; the delay's companions only with a delay."""
    for key in ("loss", "reorder", "duplicate", "corrupt"):
        value = getattr(spec, key)
        if value is not None and not 0 < value <= 1:
            raise InvalidValue(f"--{key} must be above 0 % and at most 100 %",
                               hint=f"e.g. --{key} 1%")
    if (spec.jitter_s or spec.reorder) and spec.fault != "delay":
        raise InvalidValue("--jitter and --reorder go with --delay",
                           hint="e.g. --delay 100ms --jitter 10ms --reorder 25%")
    if spec.gemodel is not None and not (
            2 <= len(spec.gemodel) <= 4 and all(0 <= v <= 1 for v in spec.gemodel)
            and spec.gemodel[0] > 0):
        raise InvalidValue("--gemodel takes 2 to 4 shares: P,R[,1-H[,1-K]], P above 0",
                           hint="as tc-netem's loss gemodel, e.g. --gemodel 1%,30% (bursts: "
                                "into the bad state at 1 %, out of it at 30 %)")


def _need_netem(spec: NetSpec, scope: Scope, netem: bool) -> None:
    what = "--reorder" if spec.fault == "delay" else f"--{spec.fault}"
    if not netem:
        raise InvalidValue(f"{what} needs netem (sch_netem), and this kernel has no netem",
                           hint="nftables and tbf can drop, partition and limit the rate "
                                "(--loss, --partition, --rate), but not duplicate, corrupt, "
                                "reorder or lose in bursts")
    if scope.netns is None:
        raise InvalidValue(f"{what} on lo is not supported: netem on lo would act on the whole "
                           "machine's loopback",
                           hint="run the service in a namespace (perflab chaos netns create "
                                "NAME) and give --netns NAME")


def net_fault(spec: NetSpec, store_path: Path, *, run_id: int | None = None,
              on_applied: Any = None) -> NetFaultDoc:
    """Apply, hold and roll back one network fault; a band on the run shows it."""
    scope, netem = check_net(spec)
    label = scope.label if scope is not None else f"proxy {spec.proxy}"
    params = {**spec.params(), "netem": netem}
    fault = FaultSession.begin(store_path, f"net-{spec.fault}", f"{spec.fault} on {label}",
                               params, run_id=run_id)
    mechanism = "interrupted before it was applied"
    with fault:
        mechanism = (_proxy_delay(fault, spec) if scope is None
                     else _apply(fault, spec, scope, netem))
        if on_applied is not None:
            on_applied(mechanism)
        fault.hold(spec.duration_s)
    return {"schema": "perflab.chaos-net/1", "fault_id": fault.journal.fault_id,
            "fault": spec.fault, "scope": label, "mechanism": mechanism, "params": params,
            "run_id": fault.run_id, "event_id": fault.event_id, "started_ns": fault.started_ns,
            "ended_ns": fault.ended_ns or time.time_ns(),
            "status": "aborted" if fault.interrupted else "ok",
            "rolled_back": not fault.problems, "problems": fault.problems}
