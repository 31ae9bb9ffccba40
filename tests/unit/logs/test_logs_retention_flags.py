"""``perflab serve --logs-retention/--logs-max-size``: read like the spans' and metrics'
retention flags, refused before anything opens when they keep nothing, and applied by the
hub's log writer."""

from __future__ import annotations

import time

import httpx
import pytest
from tests.conftest import wait_for

from perflab.cli import main
from perflab.cli._logs_retention import logs_retention
from perflab.errors import InvalidValue
from perflab.store import Store, log_stats
from perflab.testing import serve

HOUR = 3600 * 10**9


def test_the_flags_give_the_sinks_retention():
    assert logs_retention({"logs_retention": 7 * 86400.0}).max_age_ns == 7 * 24 * HOUR
    got = logs_retention({"logs_retention": 7200.0, "logs_max_size": "2GB"})
    assert (got.max_age_ns, got.max_bytes) == (2 * HOUR, 2_000_000_000)
    with pytest.raises(InvalidValue, match="keeps nothing"):
        logs_retention({"logs_retention": 60.0, "logs_max_size": "0"})


@pytest.mark.parametrize(("args", "says"), [
    (["--logs-max-size", "lots"], "invalid size"),
    (["--logs-retention", "soon"], "--logs-retention"),
])
def test_a_bad_flag_is_exit_2_before_serving(tmp_path, capsys, args, says):
    code = main(["serve", "--store", str(tmp_path / "s.db"), "--no-record",
                 "--listen", "127.0.0.1:1", *args])
    err = capsys.readouterr().err
    assert (code, says in err, "Traceback" in err) == (2, True, False), err


def test_the_hub_deletes_lines_older_than_the_retention(tmp_path):
    path = tmp_path / "s.db"
    now = time.time_ns()
    old = {"streams": [{"stream": {"job": "a"}, "values": [[str(now - 2 * HOUR), "old"]]}]}
    with serve(path, "--no-record", "--logs-retention", "1h") as served, \
            httpx.Client(timeout=30) as client:
        assert client.post(served.url + "/loki/api/v1/push", json=old).status_code == 204

        def old_line_gone() -> bool:
            # the writer checks retention when it writes, once it is due: keep writing
            doc = {"streams": [{"stream": {"job": "a"}, "values": [[str(time.time_ns()), "new"]]}]}
            assert client.post(served.url + "/loki/api/v1/push", json=doc).status_code == 204
            with Store.open(path) as st:
                _, oldest, _ = log_stats(st)
            return oldest is not None and oldest > now - HOUR

        wait_for(old_line_gone, timeout_s=60, what="the 2-hour-old line deleted", every_s=0.5)
