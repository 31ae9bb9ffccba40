"""`perflab serve` refuses what it must with the right exit code; `perflab report` writes."""

from __future__ import annotations

import json
import os
import socket
import stat

import pytest
from tests._schemas import validate

from _hubdata import build
from perflab.cli import main
from perflab.cli.serve import parse_listen
from perflab.serving import is_loopback_host


@pytest.mark.parametrize(("text", "want"), [
    ("127.0.0.1:8600", ("127.0.0.1", 8600)),
    (":9000", ("127.0.0.1", 9000)),
    ("[::1]:8600", ("::1", 8600)),
    ("0.0.0.0:80", ("0.0.0.0", 80)),
])
def test_listen_addresses_parse(text, want):
    assert parse_listen(text) == want


def test_loopback_is_recognised():
    assert is_loopback_host("127.0.0.1")
    assert is_loopback_host("::1")
    assert is_loopback_host("localhost")
    assert not is_loopback_host("0.0.0.0")
    assert not is_loopback_host("10.1.2.3")


def test_non_loopback_without_token_is_refused(store_path, capsys, monkeypatch):
    monkeypatch.delenv("PERFLAB_TOKEN", raising=False)
    code = main(["serve", "--listen", "0.0.0.0:8650", "--store", str(store_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "refusing to serve on 0.0.0.0:8650 without a token" in err
    assert "--token" in err


def test_bad_listen_is_a_usage_error(store_path, capsys):
    assert main(["serve", "--listen", "localhost", "--store", str(store_path)]) == 2
    assert "invalid --listen" in capsys.readouterr().err


def test_port_in_use_is_one_line_and_exit_3(store_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = main(["serve", "--listen", f"127.0.0.1:{port}", "--store", str(store_path),
                     "--no-record"])
    assert code == 3
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port} is already in use" in err
    assert "Traceback" not in err


def test_damaged_store_is_refused_untouched(tmp_path, capsys):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite at all" * 10)
    code = main(["serve", "--listen", "127.0.0.1:0", "--store", str(bad)])
    assert code == 2
    assert "not a perflab store" in capsys.readouterr().err
    assert bad.read_bytes() == b"this is not sqlite at all" * 10


def test_report_writes_a_file_and_describes_it_in_json(store_path, tmp_path, capsys):
    data = build(store_path, n=120)
    out = tmp_path / "r.html"
    code = main(["report", str(data.run_a), "-o", str(out), "--store", str(store_path),
                 "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "report")
    assert doc["run_id"] == data.run_a
    assert doc["bytes"] == out.stat().st_size
    text = out.read_text()
    assert "latency injected" in text            # the events section
    assert 'id="summary"' in text                # the summary table
    assert "system.mem.used_bytes" in text


def test_report_of_unknown_run_is_exit_2(store_path, tmp_path, capsys):
    build(store_path, n=10)
    assert main(["report", "4242", "-o", str(tmp_path / "x.html"),
                 "--store", str(store_path)]) == 2
    assert "4242" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_report_into_missing_directory_is_exit_2(store_path, tmp_path, capsys):
    data = build(store_path, n=10)
    assert main(["report", str(data.run_a), "-o", str(tmp_path / "no" / "such" / "r.html"),
                 "--store", str(store_path)]) == 2
    assert "cannot write the report" in capsys.readouterr().err


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_report_file_mode_follows_the_umask(store_path, tmp_path, capsys, umask, mode):
    """Bug 9: the report (and so the demo's, written by `perflab report`) was always 0600."""
    data = build(store_path, n=10)
    out = tmp_path / "r.html"
    old = os.umask(umask)
    try:
        assert main(["report", str(data.run_a), "-o", str(out), "--store",
                     str(store_path)]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".perflab-report-")] == []
