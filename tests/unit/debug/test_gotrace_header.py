"""`perflab gotrace FILE` refuses a file without a Go execution trace's header before it runs
go tool trace: one line, exit 2, a hint, and nothing stored (go tool's stderr cannot tell such a
file from a real trace it fails to parse)."""

import pytest

from perflab.cli import main
from perflab.debug._gotrace import check_trace_header
from perflab.errors import InvalidFile

NOT_TRACES = {"three-bytes": b"go ", "empty": b"", "text": b"hello, not a trace\n" * 4,
              "truncated-header": b"go 1.19 trace\x00"}


@pytest.mark.parametrize("content", NOT_TRACES.values(), ids=NOT_TRACES.keys())
def test_a_file_that_is_not_a_trace_is_refused_and_nothing_stored(capsys, tmp_path, store_path,
                                                                   content):
    bad = tmp_path / "x.out"
    bad.write_bytes(content)
    assert main(["gotrace", str(bad), "--store", str(store_path)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[0].startswith("perflab: error: ")
    assert "not a Go execution trace" in lines[0]
    assert lines[1].startswith("  hint: ")
    assert "Traceback" not in err
    assert not store_path.exists()  # no run was opened, so no failed profiles were stored
    assert not list(tmp_path.glob("*.html"))


@pytest.mark.parametrize("header", [b"go 1.19 trace\x00\x00\x00\x00",   # go 1.11 to 1.21
                                    b"go 1.22 trace\x00\x00\x00",       # go 1.22 and later
                                    b"go 1.5 trace\x00\x00\x00\x00"])
def test_a_trace_header_of_any_go_version_is_accepted(tmp_path, header):
    path = tmp_path / "trace.out"
    path.write_bytes(header + b"\x01\x02\x03")
    check_trace_header(str(path))  # no error


def test_an_unreadable_trace_is_a_one_line_error(tmp_path):
    with pytest.raises(InvalidFile, match="cannot read"):
        check_trace_header(str(tmp_path))  # a directory
