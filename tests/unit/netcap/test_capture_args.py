"""tcpdump's command line and the reading of its error lines, without running it (the real
tcpdump is driven in tests/integration/netcap)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from perflab.errors import AccessDenied, InvalidValue
from perflab.netcap import CaptureSpec
from perflab.netcap._capture import refusal, ring_files, tcpdump_argv

if TYPE_CHECKING:
    from pathlib import Path


def test_argv_with_ring_and_filter() -> None:
    spec = CaptureSpec(interface="any", output="/tmp/x.pcap", duration_s=1.0,
                       bpf_filter="tcp port 80", snaplen=128, ring_files=3,
                       ring_bytes=100_000_000)
    argv = tcpdump_argv("/usr/bin/tcpdump", spec)
    assert argv[:7] == ["/usr/bin/tcpdump", "-i", "any", "-w", "/tmp/x.pcap", "-s", "128"]
    assert "--immediate-mode" in argv
    assert argv[argv.index("-C") + 1] == "100"
    assert argv[argv.index("-W") + 1] == "3"
    assert argv[-1] == "tcp port 80"


def test_ring_size_under_a_megabyte_is_one() -> None:
    spec = CaptureSpec("lo", "o", 1.0, ring_files=2, ring_bytes=1000)
    argv = tcpdump_argv("tcpdump", spec)
    assert argv[argv.index("-C") + 1] == "1"


def test_ring_files_are_the_numbered_ones(tmp_path: Path) -> None:
    for name in ("c.pcap0", "c.pcap1", "c.pcap", "c.pcap.txt", "other0"):
        (tmp_path / name).write_bytes(b"")
    found = ring_files(str(tmp_path / "c.pcap"))
    assert sorted(found) == [str(tmp_path / "c.pcap0"), str(tmp_path / "c.pcap1")]


@pytest.mark.parametrize(("lines", "kind", "words"), [
    (["tcpdump: eth9: No such device exists", "(No such device exists)"], InvalidValue,
     "no interface 'eth9'"),
    (["tcpdump: lo: You don't have permission to perform this capture on that device"],
     AccessDenied, "no permission to capture on 'lo'"),
    (["tcpdump: syntax error in filter expression: syntax error"], InvalidValue,
     "bad capture filter 'port and'"),
    (["tcpdump: /nope/x.pcap: No such file or directory"], InvalidValue, "cannot write"),
    ([], InvalidValue, "tcpdump exited before capturing"),
])
def test_refusals(lines: list[str], kind: type[Exception], words: str) -> None:
    name = "lo" if kind is AccessDenied else "eth9"
    spec = CaptureSpec(name, "/nope/x.pcap", 1.0, bpf_filter="port and")
    err = refusal(spec, lines)
    assert isinstance(err, kind)
    assert words in str(err)


@pytest.mark.parametrize(("argv", "words"), [
    (["--live", "--ring", "2"], "--ring and --live exclude each other"),
    (["--record"], "--record and --run go with --live"),
    (["--run", "1"], "--record and --run go with --live"),
    ([], "-o/--output is required (or --live)"),
    (["--live", "--record", "--run", "1"], "--record and --run exclude each other"),
])
def test_live_option_conflicts_are_refused_before_capturing(
        argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    from perflab.cli import main  # noqa: PLC0415

    assert main(["capture", "--iface", "lo", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"perflab: error: {words}\n  hint: ")
