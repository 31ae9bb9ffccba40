"""``perflab top``: a live view of CPU, memory, PSI, disks, network, TCP and processes.

Built in layers that are tested apart: ``Sampler`` (reads /proc through ``perflab.collect``)
-> ``build_view`` (pure: sample + options -> ``TopView``) -> ``render_lines``/``render_text``
(pure: view + width/height -> text) and ``view_to_json``; ``handle_key`` maps keys to the next
``UiState``; ``run_live`` is the loop that ties them to a terminal.
"""

from perflab.top._app import run_live
from perflab.top._json import SCHEMA, view_to_json
from perflab.top._keys import UiState, handle_key, split_keys
from perflab.top._model import SORT_KEYS, SortKey, TopView, ViewOptions, build_view, matches
from perflab.top._render import ScreenState, render, render_lines, render_text
from perflab.top._sampler import Sample, Sampler

__all__ = [
    "SCHEMA",
    "SORT_KEYS",
    "Sample",
    "Sampler",
    "ScreenState",
    "SortKey",
    "TopView",
    "UiState",
    "ViewOptions",
    "build_view",
    "handle_key",
    "matches",
    "render",
    "render_lines",
    "render_text",
    "run_live",
    "split_keys",
    "view_to_json",
]
