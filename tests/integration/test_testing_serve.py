"""perflab.testing.serve runs a real `perflab serve` on a free loopback port and stops it."""

from __future__ import annotations

import httpx
import pytest

from perflab.testing import serve

pytestmark = pytest.mark.integration


def test_serve_answers_on_loopback_and_stops_cleanly(tmp_path):
    with serve(tmp_path / "lab.db", "--no-record") as hub:
        assert hub.url.startswith("http://127.0.0.1:")
        assert hub.returncode is None
        assert httpx.get(hub.url + "/api/runs", timeout=5).status_code == 200
    assert hub.returncode == 0, hub.log()


def test_serve_with_a_token_refuses_requests_without_it(tmp_path):
    with serve(tmp_path / "lab.db", "--no-record", token="s3cret") as hub:
        assert httpx.get(hub.url + "/api/runs", timeout=5).status_code == 401
        ok = httpx.get(hub.url + "/api/runs", timeout=5,
                       headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_a_server_that_cannot_start_raises_with_its_output(tmp_path):
    with pytest.raises(RuntimeError, match="perflab serve did not start") as err, \
            serve(tmp_path / "lab.db", "--interval", "soon"):
        pass
    assert "soon" in str(err.value)  # the server's own complaint is in the message
