"""The live loop of ``perflab top``: sample every interval, read keys in between, redraw.

Rendering never waits for a key and a key never waits for the next sample: the loop sleeps in
``select`` until whichever comes first, and a key redraws the last sample at once.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from types import FrameType

from rich.console import Console
from rich.live import Live

from perflab.top._keys import UiState, handle_key, split_keys
from perflab.top._model import TopView, build_view
from perflab.top._render import render
from perflab.top._sampler import Sample, Sampler
from perflab.top._terminal import cbreak, read_input

FIRST_SAMPLE_S = 0.25  # the first screen comes after this, not after a whole interval
POLL_S = 0.25          # how often a resized terminal is noticed while idle


def run_live(sampler: Sampler, ui: UiState, interval_s: float, *, hostname: str,
             console: Console, stdin_fd: int | None,
             mono: Callable[[], float] = time.monotonic) -> None:
    """Run until q, Ctrl-C or SIGTERM; the terminal is restored whichever way it ends."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    keys_mode = cbreak(stdin_fd) if stdin_fd is not None else contextlib.nullcontext()
    try:
        live = Live(console=console, screen=True, auto_refresh=False,
                    redirect_stdout=False, redirect_stderr=False)
        with keys_mode, live:
            _loop(sampler, ui, interval_s=interval_s, hostname=hostname, console=console,
                  live=live, stdin_fd=stdin_fd, mono=mono)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how people leave top: a clean exit, not an error
    finally:
        signal.signal(signal.SIGTERM, previous)


def _loop(sampler: Sampler, ui: UiState, *, interval_s: float, hostname: str, console: Console,
          live: Live, stdin_fd: int | None, mono: Callable[[], float]) -> None:
    sampler.prime()
    next_t = mono() + min(interval_s, FIRST_SAMPLE_S)
    sample: Sample | None = None
    size = console.size
    while True:
        dirty = False
        wait = min(max(0.0, next_t - mono()), POLL_S)
        if stdin_fd is None:
            time.sleep(wait)
        else:
            for key in split_keys(read_input(stdin_fd, wait)):
                ui = handle_key(ui, key)
                dirty = True
        if ui.quit:
            return
        if mono() >= next_t:
            next_t = max(next_t + interval_s, mono() + interval_s / 2)
            if not ui.screen.paused or sample is None:
                sample = sampler.sample()
                dirty = True
        if console.size != size:
            size, dirty = console.size, True
        if dirty and sample is not None:
            view = _view(sample, ui, hostname)
            live.update(render(view, size.width, size.height, ui.screen), refresh=True)


def _view(sample: Sample, ui: UiState, hostname: str) -> TopView:
    return build_view(sample.snapshot, sample.rates, sample.rows, ui.options, hostname=hostname)


def _interrupt(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001  # signal API
    raise KeyboardInterrupt
