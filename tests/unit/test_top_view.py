"""perflab top's model, renderer and JSON against a fixed fake /proc (tests/fixtures/proc_top).

The fixture holds two moments one second apart (t0, t1): the collectors read t0, the tree is
swapped for t1, and they read again, so every rate below is exact. Clocks and the uid -> user
lookup are injected; TZ is UTC so the clock in the title is fixed.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest
from tests._schemas import validate

from perflab.collect import ProcessCollector, SystemCollector
from perflab.top import (
    SCHEMA,
    Sampler,
    ScreenState,
    TopView,
    ViewOptions,
    build_view,
    render_lines,
    render_text,
    view_to_json,
)
from perflab.top._render import MIN_PROCESS_ROWS

FIXTURE = Path(__file__).parent.parent / "fixtures" / "proc_top"
TS_NS = 1_700_000_000 * 1_000_000_000


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class FixtureProc:
    """The fake /proc in a temporary directory, moved from t0 to t1 between the two reads."""

    def __init__(self, tmp_path: Path, *, without: tuple[str, ...] = ()) -> None:
        self.root = tmp_path / "proc"
        self.without = without
        self._load("t0")
        clock = iter([0.0, 1.0, 2.0, 3.0])
        pclock = iter([0.0, 1.0, 2.0, 3.0])
        self.sampler = Sampler(
            system=SystemCollector(self.root, wall_clock=lambda: TS_NS,
                                   mono_clock=lambda: next(clock)),
            processes=ProcessCollector(self.root, mono_clock=lambda: next(pclock),
                                       user_name=lambda uid: "alice"),
        )

    def _load(self, moment: str) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.copytree(FIXTURE / moment, self.root)
        # git keeps no empty directories, and a kernel thread's fd directory is empty
        for pid_dir in self.root.iterdir():
            if pid_dir.name.isdigit():
                (pid_dir / "fd").mkdir(exist_ok=True)
        for rel in self.without:
            shutil.rmtree(self.root / rel, ignore_errors=True)

    def view(self, options: ViewOptions | None = None) -> TopView:
        self.sampler.prime()
        self._load("t1")
        s = self.sampler.sample()
        return build_view(s.snapshot, s.rates, s.rows, options or ViewOptions(),
                          hostname="fixturehost")


def fixture_view(tmp_path: Path, options: ViewOptions | None = None, **kw: tuple[str, ...]):
    return FixtureProc(tmp_path, **kw).view(options)


def lines_of(text: str) -> list[str]:
    """Rendered lines without the padding rich adds to reversed headers."""
    return [line.rstrip() for line in text.splitlines()]


SCREEN_80x24 = """\
perflab top  fixturehost  22:13:20  up 3d 04:05  every 1.0s  sort:cpu
CPU    usr   sys   iow   irq  sirq   stl  idle
all   37.5  12.5   9.0   0.5   0.5   0.0  40.0 [|||||||||||||||||||            ]
0     65.0  20.0   3.0   1.0   1.0   0.0  10.0 [||||||||||||||||||||||||||||   ]
1     10.0   5.0  15.0   0.0   0.0   0.0  70.0 [||||||||||                     ]
Load 2.50 1.75 1.00  run 3 blocked 1  threads 321  ctxsw 1234/s
Mem 7.6G avail 4.8G cache 2.3G dirty 2.0M  Swap 1.0G/2.0G in 64K/s out 128K/s
PSI some/full avg10  cpu 12.50/0.00 mem 0.50/0.25 io 3.00/2.00
TCP estab 2  time-wait 7  retrans 3.0/s  listen-overflows 2.0/s
DISK        r/s    w/s  rkB/s  wkB/s r_await w_await aqu-sz %util
vda         50.0    200   2048  10.2k    2.00    5.00   1.50  90.0
NET        rx B/s  tx B/s  rx pk/s tx pk/s  errs/s drops/s
eth0         1.0M    200K      800     300     0.0     2.0
veth1a2b     2.0K    1.0K      2.0     1.0     0.0     0.0
    PID USER      CPU%   RSS  THR   FDS  READ/s WRITE/s S COMMAND
    400 alice     95.0  234M    4     6       0       0 R python3 /srv/app.py -…
    300 alice     15.0  469M    8     7    2.0M    1.0M S /usr/lib/postgresql/1…
      1 alice      2.0   12M    1     8       0    4.0K S /sbin/init splash
    301 alice      2.0   78M    1     5       0    8.0M D postgres: checkpointer
    200 alice      1.0  4.7M    1     3       0       0 S -bash
    100 alice      0.0  7.8M    1     4       0       0 S sshd: /usr/sbin/sshd …
    500 alice      0.0  1.0M    1     3       -       - S sleep 300
      2 alice      0.0     0    1     0       0       0 S [kthreadd]
c cpu m mem i io / filter t tree p pause ? help q quit  8/8 procs
"""


def test_80x24_screen_is_exact(tmp_path):
    """Every figure of the fixture's one-second interval, laid out for a classic terminal:
    CPU per mode (usr = user + nice), iostat -x, idle lo/docker0 hidden, active veth shown."""
    text = render_text(fixture_view(tmp_path), 80, 24)
    assert lines_of(text) == SCREEN_80x24.splitlines()


EXPECTED = FIXTURE / "expected"  # screens too wide to sit in this file


def test_wide_screen_puts_disks_and_network_beside_cpu(tmp_path):
    """From 150 columns the disk and network panels move to a right-hand column and commands
    are no longer cut."""
    lines = lines_of(render_text(fixture_view(tmp_path), 200, 50))
    assert lines[:12] == (EXPECTED / "top_200x50.txt").read_text().splitlines()
    assert lines[-1] == "c cpu m mem i io / filter t tree p pause ? help q quit  8/8 procs"
    assert len(lines) == 19  # 8 processes: the screen is not padded with blank lines


SCREEN_80x12 = """\
perflab top  fixturehost  22:13:20  up 3d 04:05  every 1.0s  sort:cpu
CPU    usr   sys   iow   irq  sirq   stl  idle
all   37.5  12.5   9.0   0.5   0.5   0.0  40.0 [|||||||||||||||||||            ]
busy 0:90  1:30
Load 2.50 1.75 1.00  run 3 blocked 1  threads 321  ctxsw 1234/s
Mem 7.6G avail 4.8G cache 2.3G dirty 2.0M  Swap 1.0G/2.0G in 64K/s out 128K/s
    PID USER      CPU%   RSS  THR   FDS  READ/s WRITE/s S COMMAND
    400 alice     95.0  234M    4     6       0       0 R python3 /srv/app.py -…
    300 alice     15.0  469M    8     7    2.0M    1.0M S /usr/lib/postgresql/1…
      1 alice      2.0   12M    1     8       0    4.0K S /sbin/init splash
    301 alice      2.0   78M    1     5       0    8.0M D postgres: checkpointer
c cpu m mem i io / filter t tree p pause ? help q quit  8/8 procs
"""


def test_short_terminal_shrinks_panels_to_keep_process_rows(tmp_path):
    """Per-core rows fold into one "busy" line, then disk/net, PSI and TCP panels go, so the
    process table keeps its minimum number of rows."""
    text = render_text(fixture_view(tmp_path), 80, 12)
    assert lines_of(text) == SCREEN_80x12.splitlines()


def test_no_line_ever_exceeds_the_terminal(tmp_path):
    """Whatever the size, no line is wider than the terminal (so nothing wraps) and the
    screen is never taller than it."""
    view = fixture_view(tmp_path, ViewOptions(tree=True))
    many_cores = replace(view, cpu_cores=tuple(
        replace(view.cpu_all, name=str(i)) for i in range(64)))
    for v in (view, many_cores):
        for width in (20, 40, 79, 80, 100, 149, 150, 200, 300):
            for height in (3, 8, 12, 24, 50):
                lines = render_lines(v, width, height, ScreenState(editing="x" * 200))
                assert len(lines) <= height
                assert all(line.cell_len <= width for line in lines), (width, height)


def test_many_cores_fold_into_busy_cells_on_a_small_terminal(tmp_path):
    """64 cores cannot get a row each in 80x24: they become "core:busy%" cells, on one line of
    the busiest cores when space is short, and the process table keeps its minimum rows."""
    view = fixture_view(tmp_path)
    cores = tuple(replace(view.cpu_all, name=str(i), idle=100.0 - i) for i in range(64))
    lines = lines_of(render_text(replace(view, cpu_cores=cores), 80, 24))
    assert lines[3] == ("busiest 63:63  62:62  61:61  60:60  59:59  58:58  57:57  56:56  55:55"
                        "  54:54")
    assert lines[-1].startswith("c cpu")
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("PID USER"))
    assert len(lines) - header - 2 >= MIN_PROCESS_ROWS
    tall = lines_of(render_text(replace(view, cpu_cores=cores), 80, 40))
    assert tall[3].startswith("busy 0:0    1:1    2:2    3:3 ")
    assert tall[4].startswith("     10:10  11:11")


def test_psi_missing_says_so(tmp_path):
    """A kernel without /proc/pressure: the PSI line says "n/a" instead of inventing zeros."""
    view = fixture_view(tmp_path, without=("pressure",))
    assert view.psi == ()
    assert "PSI n/a (no /proc/pressure on this kernel)" in lines_of(render_text(view, 80, 24))
    assert view_to_json(view)["psi"] is None


def test_once_output_has_every_process_and_no_footer(tmp_path):
    """height=None is --once: all panels, all processes, no key footer."""
    lines = lines_of(render_text(fixture_view(tmp_path), 80, None))
    assert lines[:-8] == SCREEN_80x24.splitlines()[:-9]
    assert lines[-1].endswith("[kthreadd]")


def test_plain_text_has_no_escape_codes_and_color_has(tmp_path):
    view = fixture_view(tmp_path)
    assert "\x1b" not in render_text(view, 80, 24)
    assert "\x1b[" in render_text(view, 80, 24, color=True)


# ---- the process table: sort, filter, tree ----

def pids(view: TopView) -> list[int]:
    return [p.row.pid for p in view.processes]


def test_sort_orders(tmp_path):
    """cpu: CPU% first; mem: RSS first; io: read + write bytes/s first (ties by CPU, RSS, PID)."""
    v0 = fixture_view(tmp_path, ViewOptions(sort="mem"))
    assert pids(v0) == [300, 400, 301, 1, 100, 200, 500, 2]
    v1 = fixture_view(tmp_path / "again", ViewOptions(sort="io"))
    assert pids(v1)[:3] == [301, 300, 1]  # 8 MiB/s, 3 MiB/s, 4 KiB/s
    v2 = fixture_view(tmp_path / "cpu", ViewOptions(sort="cpu"))
    assert pids(v2) == [400, 300, 1, 301, 200, 100, 500, 2]


def test_filter_by_name_command_or_pid(tmp_path):
    f = FixtureProc(tmp_path)
    f.view()
    sample = f.sampler.sample()

    def shown(text: str) -> list[int]:
        view = build_view(sample.snapshot, sample.rates, sample.rows, ViewOptions(filter=text))
        return sorted(pids(view))

    assert shown("postgres") == [300, 301]
    assert shown("POSTGRES") == [300, 301]          # any case
    assert shown("app.py") == [400]                 # the command line counts
    assert shown("my app") == [400]                 # so does the name (comm) with spaces
    assert shown("500") == [500]                    # a PID, exactly ...
    assert shown("50") == []                        # ... not a prefix of one
    assert shown("nothing-like-this") == []


def test_no_match_is_said(tmp_path):
    view = fixture_view(tmp_path, ViewOptions(filter="zzz"))
    assert "no process matches 'zzz'" in lines_of(render_text(view, 80, 24))


TREE = """\
    PID USER      CPU%   RSS  THR   FDS  READ/s WRITE/s S COMMAND
      1 alice      2.0   12M    1     8       0    4.0K S /sbin/init splash
    300 alice     15.0  469M    8     7    2.0M    1.0M S ├─/usr/lib/postgresql/16/bin/postgres -D …
    301 alice      2.0   78M    1     5       0    8.0M D │ └─postgres: checkpointer
    100 alice      0.0  7.8M    1     4       0       0 S └─sshd: /usr/sbin/sshd -D [listener] 0 of…
    200 alice      1.0  4.7M    1     3       0       0 S   └─-bash
    400 alice     95.0  234M    4     6       0       0 R     ├─python3 /srv/app.py --workers 4
    500 alice      0.0  1.0M    1     3       -       - S     └─sleep 300
      2 alice      0.0     0    1     0       0       0 S [kthreadd]
"""


def test_tree_draws_children_under_parents_like_pstree(tmp_path):
    """Tree mode: pstree's ├─ └─ │ glyphs, siblings in the chosen sort order (mem here)."""
    view = fixture_view(tmp_path, ViewOptions(sort="mem", tree=True))
    lines = lines_of(render_text(view, 100, None))
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("PID USER"))
    assert lines[start:] == TREE.splitlines()
    assert [p.depth for p in view.processes] == [0, 1, 2, 1, 2, 3, 3, 0]


def test_tree_with_filter_roots_orphans(tmp_path):
    """A filtered tree keeps the matches only; a match whose parent is hidden is a root."""
    view = fixture_view(tmp_path, ViewOptions(filter="post", tree=True))
    assert [(p.row.pid, p.tree) for p in view.processes] == [(300, ""), (301, "└─")]
    view = fixture_view(tmp_path / "b", ViewOptions(filter="checkpointer", tree=True))
    assert [(p.row.pid, p.tree) for p in view.processes] == [(301, "")]


# ---- JSON ----

def test_json_matches_the_documented_schema_and_the_fixture(tmp_path):
    doc = {"schema": SCHEMA, **view_to_json(fixture_view(tmp_path, ViewOptions(tree=True)))}
    doc = json.loads(json.dumps(doc))
    validate(doc, "top")
    assert doc["schema"] == "perflab.top/1"
    assert doc["cpu"]["all"]["user"] == pytest.approx(35.0)
    assert doc["cpu"]["all"]["nice"] == pytest.approx(2.5)
    assert doc["cpu"]["cores"]["1"]["iowait"] == pytest.approx(15.0)
    assert doc["memory"]["swap_in_bytes_per_s"] == pytest.approx(65536)
    assert doc["psi"]["cpu"]["full"]["avg10"] == 0.0
    assert doc["disks"] == [{
        "device": "vda", "r_per_s": 50.0, "w_per_s": 200.0, "rkb_per_s": 2048.0,
        "wkb_per_s": 10240.0, "r_await_ms": pytest.approx(2.0), "w_await_ms": 5.0,
        "aqu_sz": 1.5, "util_pct": pytest.approx(90.0)}]
    assert [n["device"] for n in doc["networks"]] == ["eth0", "veth1a2b"]
    assert doc["tcp"] == {"established": 2, "time_wait": 7, "retrans_per_s": 3.0,
                          "listen_overflows_per_s": 2.0}
    assert [(p["pid"], p["depth"]) for p in doc["processes"]][:3] == [(1, 0), (300, 1), (301, 2)]


def test_the_process_walk_after_the_first_snapshot_is_part_of_the_interval(tmp_path):
    """`top --once`/`--json` waits what is left of the interval after walking the processes:
    rates over the interval asked, not over it plus the walk (tens of ms on a busy machine)."""
    now = [0.0]

    class SlowWalk(ProcessCollector):
        def refresh(self, pids=None):
            now[0] += 0.08
            return super().refresh(pids)

    root = FixtureProc(tmp_path).root
    sampler = Sampler(system=SystemCollector(root, mono_clock=lambda: now[0]),
                      processes=SlowWalk(root, mono_clock=lambda: now[0]),
                      mono_clock=lambda: now[0])
    assert sampler.remaining(0.1) == 0.1  # nothing taken yet: the whole interval
    sampler.prime()
    assert sampler.remaining(0.1) == pytest.approx(0.02)
    assert sampler.remaining(0.05) == 0.0  # a walk longer than the interval: no wait at all
    now[0] += sampler.remaining(0.1)  # the wait
    assert sampler.sample().rates.interval_s == pytest.approx(0.1)
