"""TypedDicts of the fault commands' --json documents (docs/schemas/chaos-*.schema.json)."""

from typing import Any, Literal, NotRequired, TypedDict


class FaultTarget(TypedDict):
    pid: int
    name: str


class _FaultEnd(TypedDict):
    """What every fault's document says of its band and its rollback."""

    fault_id: str
    mechanism: str
    params: dict[str, Any]
    run_id: int
    event_id: int
    started_ns: int
    ended_ns: int
    status: Literal["ok", "aborted"]
    rolled_back: bool
    problems: list[str]


class FaultDoc(_FaultEnd):
    """``perflab chaos inject --json``: one fault, after its rollback."""

    schema: Literal["perflab.chaos-fault/1"]
    kind: Literal["kill", "stop", "restart", "cpu", "memory", "disk", "io", "fds"]
    targets: list[FaultTarget]
    notes: list[str]
    restarted_pid: NotRequired[int]


class NetFaultDoc(_FaultEnd):
    """``perflab chaos net --json``: one network fault, after its rollback."""

    schema: Literal["perflab.chaos-net/1"]
    fault: Literal["loss", "rate", "partition", "delay", "duplicate", "corrupt", "gemodel"]
    scope: str


class NetnsDoc(TypedDict):
    """One namespace of ``perflab chaos netns create|list --json``."""

    name: str
    netns: str
    host_if: str
    ns_if: str
    host_addr: str
    ns_addr: str


class NetnsListDoc(TypedDict):
    schema: Literal["perflab.chaos-netns/1"]
    namespaces: list[NetnsDoc]


class RollbackDoc(TypedDict):
    """``perflab chaos rollback --json``: journals of dead controllers undone."""

    schema: Literal["perflab.chaos-rollback/1"]
    rolled_back: list[str]
    running: list[str]
    problems: list[str]


class MonkeyKill(TypedDict):
    pid: int
    name: str
    ts_ns: int


class MonkeyDoc(TypedDict):
    """``perflab chaos monkey --json``: what the schedule terminated."""

    schema: Literal["perflab.chaos-monkey/1"]
    run_id: int
    killed: list[MonkeyKill]
    skipped: int
    status: Literal["ok", "aborted"]
