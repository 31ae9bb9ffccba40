"""Undo the steps of a fault's journal; the controller and the watchdog share this code.

Every step is idempotent and checks that what it acts on is still what the fault touched: a
signal goes to a PID only while that PID still has the start time it had (PIDs are reused), a
file is removed only under the name perflab gave it. A step that fails is reported and the
others still run: one stuck qdisc must not leave a process stopped.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.collect import stat_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.chaos.faults._journal import Journal, UndoStep

RLIMITS = {"NOFILE": resource.RLIMIT_NOFILE}
GROUP_GRACE_S = 2.0  # end_group: how long a group has after SIGTERM before SIGKILL


def start_ticks(pid: int) -> int | None:
    """The start time of a process (clock ticks since boot), None once it has gone."""
    stat = stat_of(pid)
    return None if stat is None else stat.starttime


def same_process(step: UndoStep) -> bool:
    """Whether ``step``'s PID is still the process the fault acted on."""
    return bool(start_ticks(int(step["pid"])) == step["start_ticks"])


def in_netns(netns: str | None, argv: list[str]) -> list[str]:
    """``argv`` run inside a network namespace (``ip netns exec``), or as it is."""
    return argv if netns is None else ["ip", "netns", "exec", netns, *argv]


def run_quiet(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False,  # noqa: S603
                          timeout=20)  # perflab's own ip/nft/tc command lines


def _cont(step: UndoStep) -> None:
    if same_process(step):
        os.kill(int(step["pid"]), signal.SIGCONT)


def _group_is_ours(step: UndoStep) -> bool:
    """Whether the process group led by ``step``'s PID is still the one perflab started. Its
    leader's PID cannot be reused while the group has members, so a group whose leader is
    gone is still ours; a leader with another start time is another process."""
    now = start_ticks(int(step["pid"]))
    return now is None or now == step["start_ticks"]


def _kill_group(step: UndoStep) -> None:
    """SIGKILL a hog's process group."""
    pid = int(step["pid"])
    if not _group_is_ours(step):
        return  # the PID belongs to another process now (the hog and its group are gone)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # our own child when the controller undoes it


def _end_group(step: UndoStep) -> None:
    """End the process group of a program perflab started with a fault in it (``perflab run
    --clock-skew``: the skew lives in the program and its children): SIGTERM, as ``perflab
    run`` passes on a SIGTERM, then SIGKILL for what is left once the leader has ended or
    ``grace_s`` has passed."""
    pid = int(step["pid"])
    if not _group_is_ours(step):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return  # the group has ended already
    deadline = time.monotonic() + float(step.get("grace_s", GROUP_GRACE_S))
    while time.monotonic() < deadline and _running(pid, step["start_ticks"]):
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _running(pid: int, ticks: int | None) -> bool:
    """Whether that incarnation of ``pid`` runs (a zombie nobody reaped yet has ended)."""
    stat = stat_of(pid)
    return stat is not None and stat.starttime == ticks and stat.state != "Z"


def _unlink(step: UndoStep) -> None:
    with contextlib.suppress(FileNotFoundError):
        Path(step["path"]).unlink()


def _rmtree(step: UndoStep) -> None:
    shutil.rmtree(step["path"], ignore_errors=True)


def _rlimit(step: UndoStep) -> None:
    if same_process(step):
        with contextlib.suppress(ProcessLookupError):
            resource.prlimit(int(step["pid"]), RLIMITS[step["resource"]],
                             (int(step["soft"]), int(step["hard"])))


def _spawn(step: UndoStep) -> None:
    """Start the restart command of a killed process (its own session: it outlives us)."""
    subprocess.Popen(step["argv"], cwd=step.get("cwd"), start_new_session=True,  # noqa: S603
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)


def _nft_delete(step: UndoStep) -> None:
    out = run_quiet(in_netns(step.get("netns"), ["nft", "delete", "table", step["family"],
                                                 step["table"]]))
    if out.returncode != 0 and "No such file" not in out.stderr and not _netns_gone(step):
        raise RuntimeError(out.stderr.strip() or f"nft exit {out.returncode}")


def _tc_delete(step: UndoStep) -> None:
    out = run_quiet(in_netns(step.get("netns"), ["tc", "qdisc", "del", "dev", step["dev"],
                                                 "root", "handle", step["handle"]]))
    gone = ("No such file", "Cannot find device", "Invalid handle", "Cannot delete qdisc")
    if out.returncode != 0 and not any(g in out.stderr for g in gone) \
            and not _netns_gone(step):
        raise RuntimeError(out.stderr.strip() or f"tc exit {out.returncode}")


def _netns_gone(step: UndoStep) -> bool:
    """A namespace deleted meanwhile took its tables and qdiscs with it."""
    netns = step.get("netns")
    return netns is not None and not Path(f"/run/netns/{netns}").exists()


def _http_delete(step: UndoStep) -> None:
    req = urllib.request.Request(step["url"], method="DELETE")  # noqa: S310  # loopback API
    try:
        with urllib.request.urlopen(req, timeout=5):  # noqa: S310
            pass
    except urllib.error.HTTPError as exc:
        if exc.code != 404:  # already removed (its duration ended, or /reset)
            raise


def _end_event(step: UndoStep) -> None:
    from perflab.store import Store, end_event, end_event_at  # noqa: PLC0415  # only when a fault ends

    ended = int(step.get("ended_ns") or time.time_ns())
    with Store.open(step["store"]) as store:
        if "event_id" in step:
            end_event(store, int(step["event_id"]), ended)
        else:  # journaled before the band was written: known by its run, kind and start
            end_event_at(store, int(step["run_id"]), str(step["kind"]), int(step["ts_ns"]),
                         ended)
        if step.get("run_owned"):
            store.finish_run(int(step["run_id"]), str(step.get("status", "aborted")),
                             rollup=False, meta_update=step.get("meta"))


UNDO: dict[str, Callable[[UndoStep], None]] = {
    "cont": _cont, "kill_group": _kill_group, "end_group": _end_group, "unlink": _unlink,
    "rmtree": _rmtree,
    "rlimit": _rlimit, "spawn": _spawn, "nft_delete": _nft_delete, "tc_delete": _tc_delete,
    "http_delete": _http_delete, "end_event": _end_event,
}


def undo_all(journal: Journal, *, status: str = "ok", by: str = "controller",
             ended_ns: int | None = None) -> list[str]:
    """Undo every step, the last change first; returns one line per step that failed.
    ``ended_ns``: when the fault ended (the watchdog: when it saw the controller die), else
    the band ends when its step is undone."""
    problems = []
    for step in reversed(journal.undo):
        if step["op"] == "end_event":
            step = {**step, "status": status,  # noqa: PLW2901  # this rollback's outcome
                    "meta": {"rolled_back_by": by}, "ended_ns": ended_ns}
        try:
            UNDO[step["op"]](step)
        except Exception as exc:  # one failed step must not stop the others
            problems.append(f"{step['op']}: {exc}")
    journal.remove()
    return problems
