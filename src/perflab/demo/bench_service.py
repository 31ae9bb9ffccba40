"""The demo's benchmark: ``render_items`` of the demo service as version 1 and version 2 have it.

``perflab demo`` measures both with perflab's bench runner (worker processes, CPU time) and
records them in the bench history as two commits; ``perflab bench run`` finds these functions
like any other ``bench_*`` function.
"""

from perflab.demo.service import ITEMS, render_items, render_items_v2


def bench_render_items_v1() -> None:
    render_items(ITEMS)


def bench_render_items_v2() -> None:
    render_items_v2(ITEMS)
