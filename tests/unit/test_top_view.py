"""perflab top's model, renderer and JSON against a fixed fake /proc (tests/fixtures/proc_top).

The fixture holds two moments one second apart (t0, t1): the collectors read t0, the tree is
swapped for t1, and they read again, so every rate below is exact. Clocks and the uid -> user
lookup are injected; TZ is UTC so the clock in the title is fixed.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import jsonschema
import pytest

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
SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "schemas" / "top.schema.json"
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


def test_show(tmp_path):
    v = fixture_view(tmp_path)
    print(render_text(v, 80, 24))
    print(render_text(v, 200, 50))
    print(render_text(v, 80, None, ScreenState(paused=True)))
    print(render_text(fixture_view(tmp_path / "b", ViewOptions(tree=True, sort="mem")), 100, None))
