"""The stored verdict of an open-model run: failed when it fell short of its target rate,
aborted when the user stopped it, whatever its last moments sent."""

from __future__ import annotations

from collections import Counter

import pytest

from perflab.load._config import LoadConfig, parse_target
from perflab.load._hdr import Histogram
from perflab.load._result import LoadResult
from perflab.load._run import _verdict


def _stopped_open_run(dropped: int) -> LoadResult:
    """An open-model run stopped with 208 arrivals due, ``dropped`` of them not started."""
    cfg = LoadConfig(parse_target("http://127.0.0.1:8080/"), rate=100.0, duration_s=60.0)
    return LoadResult(cfg, 0, 2.08, "aborted", Histogram(), Histogram(),
                      Counter({200: 208 - dropped}), dropped=dropped, scheduled=208,
                      lateness=Histogram())


@pytest.mark.parametrize(("interrupted", "status"), [(True, "aborted"), (False, "failed")])
def test_an_arrival_due_at_the_users_stop_does_not_fail_the_run(interrupted, status):
    """Under stress one arrival due just before Ctrl-C had not started: the run was stored
    failed and exited 1 instead of 130. The shortfall is still said."""
    result = _stopped_open_run(dropped=1)
    assert result.target_reached is False
    _verdict(result, stopped_early=False, interrupted=interrupted)
    assert result.status == status
    assert any("1 of 208 arrivals never sent" in w for w in result.warnings)
