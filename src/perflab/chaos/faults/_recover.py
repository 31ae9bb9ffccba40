"""``perflab chaos rollback``: undo the faults whose controller died and left its journal.

The watchdog does this within moments of the controller's death; a journal is still there only
when both were killed (a reboot, ``kill -9`` of the whole session). A journal whose controller
still runs is a fault in progress and is left alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.chaos.faults._journal import journal_dir, journals
from perflab.chaos.faults._undo import start_ticks, undo_all

if TYPE_CHECKING:
    from pathlib import Path

    from perflab.chaos.faults._contracts import RollbackDoc


def rollback_orphans(store_path: Path) -> RollbackDoc:
    done, running, problems = [], [], []
    for journal in journals(journal_dir(store_path)):
        ctl = journal.controller
        pid = ctl.get("pid")
        if pid is not None and start_ticks(int(pid)) == ctl.get("start_ticks"):
            running.append(journal.fault_id)
            continue
        problems += [f"{journal.fault_id}: {p}"
                     for p in undo_all(journal, status="aborted", by="perflab chaos rollback")]
        done.append(journal.fault_id)
    return {"schema": "perflab.chaos-rollback/1", "rolled_back": done, "running": running,
            "problems": problems}
