"""``perflab chaos netns``: a network namespace with a veth pair, where network faults may act.

The namespace is ``perflab-NAME``. One end of the veth pair stays in the host's namespace, the
other is inside; each has one address of a link-local /30 (169.254.240.0/20, never
169.254.169.254) and there is no other route: the namespace has no default route, the host end
has forwarding and IPv6 off, so traffic between the two ends never leaves them. A service
started inside (``perflab chaos netns run NAME -- CMD``) is reached at the inside address.
Its description is kept in ``/run/perflab/netns/NAME.json``, which vanishes with a reboot,
as the namespace does.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.errors import AccessDenied, InvalidValue, NotFound, TargetError, ToolMissing

if TYPE_CHECKING:
    from perflab.chaos.faults._contracts import NetnsDoc

PREFIX = "perflab-"
STATE_DIR = Path("/run/perflab/netns")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
_POOL = ipaddress.ip_network("169.254.240.0/20")
IPROUTE2 = "apt install iproute2"


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise AccessDenied(f"{what} needs root", hint=f"run it as root: sudo perflab chaos {what}")


def require_tools(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            raise ToolMissing(tool, install="apt install nftables" if tool == "nft" else IPROUTE2)


def ip(*args: str, netns: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["ip", *args] if netns is None else ["ip", "netns", "exec", netns, "ip", *args]
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=20)  # noqa: S603
    if out.returncode != 0:
        raise TargetError(f"`{' '.join(argv)}` failed: {out.stderr.strip()}",
                          hint="see `ip netns list` and `ip link`")
    return out


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidValue(f"invalid namespace name {name!r}",
                           hint="1-20 characters: a-z, 0-9 and '-', starting with a letter "
                                "or digit")
    return name


def _ifnames(name: str) -> tuple[str, str]:
    tag = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"pl{tag}h", f"pl{tag}n"  # 11 characters, within IFNAMSIZ


def _used_addresses() -> set[ipaddress.IPv4Address]:
    doc = json.loads(ip("-j", "addr", "show").stdout or "[]")
    return {ipaddress.IPv4Address(a["local"]) for link in doc for a in link.get("addr_info", [])
            if a.get("family") == "inet"}


def _free_subnet() -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    used = _used_addresses() | {ipaddress.IPv4Address(d["host_addr"]) for d in list_netns()}
    for net in _POOL.subnets(new_prefix=30):
        if not any(a in net for a in used):
            return net
    raise TargetError("no free /30 left in 169.254.240.0/20",
                      hint="delete namespaces you no longer use: perflab chaos netns delete NAME")


def create_netns(name: str) -> NetnsDoc:
    """Create ``perflab-NAME`` with its veth pair; on any failure nothing is left behind."""
    require_root("netns create")
    require_tools("ip")
    check_name(name)
    netns = PREFIX + name
    if Path(f"/run/netns/{netns}").exists():
        raise InvalidValue(f"namespace {netns} already exists",
                           hint=f"use it, or delete it first: perflab chaos netns delete {name}")
    host_if, ns_if = _ifnames(name)
    net = _free_subnet()
    host_addr, ns_addr = str(net[1]), str(net[2])
    doc: NetnsDoc = {"name": name, "netns": netns, "host_if": host_if, "ns_if": ns_if,
                     "host_addr": host_addr, "ns_addr": ns_addr}
    try:
        ip("netns", "add", netns)
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", netns)
        # the host end forwards nothing and speaks no IPv6: only the /30 is reachable
        Path(f"/proc/sys/net/ipv4/conf/{host_if}/forwarding").write_text("0\n")
        Path(f"/proc/sys/net/ipv6/conf/{host_if}/disable_ipv6").write_text("1\n")
        ip("addr", "add", f"{host_addr}/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("link", "set", "lo", "up", netns=netns)
        ip("addr", "add", f"{ns_addr}/30", "dev", ns_if, netns=netns)
        ip("link", "set", ns_if, "up", netns=netns)
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        (STATE_DIR / f"{name}.json").write_text(json.dumps(doc))
    except BaseException:
        _remove(name)
        raise
    return doc


def _remove(name: str) -> None:
    host_if, _ = _ifnames(name)
    for argv in (["ip", "netns", "del", PREFIX + name], ["ip", "link", "del", host_if]):
        subprocess.run(argv, capture_output=True, check=False, timeout=20)  # noqa: S603  # ours
    with contextlib.suppress(FileNotFoundError):
        (STATE_DIR / f"{name}.json").unlink()


def delete_netns(name: str) -> None:
    require_root("netns delete")
    check_name(name)
    if not Path(f"/run/netns/{PREFIX}{name}").exists():
        raise NotFound(f"no namespace {PREFIX}{name}", hint="see: perflab chaos netns list")
    _remove(name)


def get_netns(name: str) -> NetnsDoc:
    """A namespace perflab created; anything else is refused (faults act only there)."""
    check_name(name)
    try:
        doc: NetnsDoc = json.loads((STATE_DIR / f"{name}.json").read_text())
    except (OSError, ValueError):
        doc = None  # type: ignore[assignment]
    if doc is None or not Path(f"/run/netns/{doc['netns']}").exists():
        raise NotFound(f"no namespace {PREFIX}{name} created by perflab",
                       hint=f"create it: perflab chaos netns create {name}")
    return doc


def list_netns() -> list[NetnsDoc]:
    if not STATE_DIR.is_dir():
        return []
    found = []
    for path in sorted(STATE_DIR.glob("*.json")):
        with contextlib.suppress(NotFound):
            found.append(get_netns(path.stem))
    return found


def netns_exec_argv(name: str, command: list[str]) -> list[str]:
    """The argv that runs ``command`` inside the namespace."""
    doc = get_netns(name)
    if not command:
        raise InvalidValue("no command to run", hint=f"perflab chaos netns run {name} -- CMD")
    return ["ip", "netns", "exec", doc["netns"], *command]
