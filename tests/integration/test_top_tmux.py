"""`perflab top` live in a real terminal: tmux at 80x24 and 200x50, driven by keys.

A process with a distinctive name is started first; the test reads the screens with
``tmux capture-pane -p`` and checks the panels, sorting, the filter, the tree and a clean exit
(the process is gone, the pane is back at the shell, the terminal modes are as before).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import require_tool

pytestmark = pytest.mark.integration

SRC = Path(__file__).parents[2] / "src"
PROMPT = "plab-test$ "
ROW = re.compile(r"^\s*(\d+) (\S+)\s+([\d.]+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+) (\S) (.*)$")
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class Pane:
    def __init__(self, tmux: str, socket: str) -> None:
        self.tmux, self.socket = tmux, socket

    def run(self, *args: str) -> str:
        return subprocess.run([self.tmux, "-S", self.socket, *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "t", "-l", text)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t")

    def wait(self, what: str, ok: Callable[[str], bool], timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if ok(text):
                return text
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; screen was:\n{text}")
            time.sleep(0.1)

    def shell_children(self) -> list[int]:
        shell = int(self.run("display-message", "-p", "-t", "t", "#{pane_pid}").strip())
        out = []
        for task in Path(f"/proc/{shell}/task").iterdir():
            out += [int(p) for p in (task / "children").read_text().split()]
        return out


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[str]:
    """A sleeping process whose name (comm) is unlike any other's."""
    name = f"plabzz{os.getpid() % 100000}"
    binary = tmp_path / name
    binary.write_bytes(Path(require_tool("sleep")).read_bytes())
    binary.chmod(0o755)
    proc = subprocess.Popen([name, "300"], executable=binary)  # a short command line
    try:
        yield name
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(params=[(80, 24), (200, 50)], ids=["80x24", "200x50"])
def pane(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Pane, int, int]]:
    tmux = require_tool("tmux")
    width, height = request.param
    socket = str(tmp_path / "tmux.sock")  # a private server, gone with the test's directory
    env = {"PS1": PROMPT, "TERM": "xterm-256color", "PATH": os.environ["PATH"],
           "HOME": str(tmp_path), "PYTHONPATH": str(SRC), "LANG": "C.UTF-8"}
    cmd = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), "bash", "--norc", "--noprofile"]
    subprocess.run([tmux, "-S", socket, "-f", "/dev/null", "new-session", "-d", "-s", "t",
                    "-x", str(width), "-y", str(height), shlex.join(cmd)], check=True, timeout=10)
    p = Pane(tmux, socket)
    try:
        p.wait("the shell prompt", lambda s: PROMPT.strip() in s)
        yield p, width, height
    finally:
        subprocess.run([tmux, "-S", socket, "kill-server"], check=False, timeout=10)


def process_rows(screen: str) -> list[re.Match[str]]:
    lines = screen.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"^\s+PID USER", line)), None)
    if start is None:  # a frame caught half drawn
        return []
    return [m for line in lines[start + 1:] if (m := ROW.match(line))]


def column(screen: str, group: int, parse: Callable[[str], float]) -> list[float]:
    return [parse(m.group(group)) for m in process_rows(screen)]


def is_descending(values: list[float]) -> bool:
    return len(values) >= 2 and values == sorted(values, reverse=True)


def size_bytes(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)([KMGT]?)", text)
    assert m, text
    return float(m.group(1)) * UNITS[m.group(2)]


def test_live_view_keys_and_clean_exit(pane, sleeper, tmp_path):
    p, width, height = pane
    p.type(f"stty -g > {tmp_path}/before; {shlex.quote(sys.executable)} -m perflab top")
    p.keys("Enter")
    screen = p.wait("the first screen", lambda s: "PID USER" in s and "c cpu" in s)
    lines = screen.splitlines()
    assert len(lines) <= height
    assert all(len(line) <= width for line in lines)
    assert lines[0].startswith("perflab top")
    for panel in ("CPU    usr", "Load ", "Mem ", "Swap ", "PSI ", "TCP estab"):
        assert panel in screen, panel
    if height >= 50:  # a big terminal has room for everything
        assert "DISK " in screen
        assert "NET " in screen
        assert " │ DISK" in screen  # wide: disks sit beside the CPU panel
    assert lines[-1].lstrip().startswith("c cpu m mem i io / filter t tree p pause ? help q quit")

    # a capture can catch a frame half drawn, so each wait is for the whole condition
    p.keys("m")
    screen = p.wait("sort by memory",
                    lambda s: "sort:mem" in s and is_descending(column(s, 4, size_bytes)))
    assert len(process_rows(screen)) >= 5

    p.keys("c")
    p.wait("sort by cpu", lambda s: "sort:cpu" in s and is_descending(column(s, 3, float)))

    p.keys("/")
    p.wait("the filter prompt", lambda s: "filter: _" in s)
    p.type(sleeper)
    p.wait("the typed filter", lambda s: f"filter: {sleeper}_" in s)
    p.keys("Enter")
    screen = p.wait("only the sleeper",
                    lambda s: f"filter:{sleeper}" in s and len(process_rows(s)) == 1)
    row = process_rows(screen)[0]
    assert row.group(10).endswith(f"{sleeper} 300")
    assert row.group(9) == "S"

    p.keys("Escape")
    p.wait("the filter cleared", lambda s: "filter:" not in s.splitlines()[0])
    p.keys("t")
    screen = p.wait("the tree", lambda s: s.splitlines()[0].endswith("tree")
                    and ("└─" in s or "├─" in s))
    assert any(m.group(10).startswith(("├─", "└─", "│")) for m in process_rows(screen))

    p.keys("?")
    p.wait("the help", lambda s: "perflab top: keys" in s)
    p.keys("x")
    p.wait("the help closed", lambda s: "perflab top: keys" not in s and "PID USER" in s)

    assert len(p.shell_children()) == 1  # perflab top itself
    p.keys("q")
    p.wait("the shell back", lambda s: s.rstrip().endswith(PROMPT.strip()))
    assert p.shell_children() == []
    p.type(f"stty -g > {tmp_path}/after")
    p.keys("Enter")
    deadline = time.monotonic() + 5
    while not (tmp_path / "after").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    assert (tmp_path / "after").read_text() == (tmp_path / "before").read_text()


def test_ctrl_c_quits_cleanly(pane):
    p, _, _ = pane
    p.type(f"{shlex.quote(sys.executable)} -m perflab top --interval 200ms; echo exit-code-$?")
    p.keys("Enter")
    p.wait("the first screen", lambda s: "PID USER" in s)
    p.keys("C-c")
    screen = p.wait("the shell back",
                    lambda s: re.search(r"^exit-code-\d+", s, re.MULTILINE) is not None)
    assert re.search(r"^exit-code-0$", screen, re.MULTILINE), screen
    assert "Traceback" not in screen
    assert p.shell_children() == []
