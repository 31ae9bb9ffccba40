"""A flame graph of 100,000 distinct stacks: time to open in headless Chromium, and redraw
times for zoom, search and reset (the figure of issue 6: open <= 2 s, zoom without lag).

    PYTHONPATH=src python benchmarks/bench_profile_flame.py [--stacks 100000] [--shot out.png]

Prints one line per figure; the open time is from navigation start to the first complete
draw (the page sets window.flameReady), as Chromium's performance clock reports it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from perflab.profile import Frame, Profile, SampleType
from perflab.profile._flame import tree_of
from perflab.profile._flame_render import render_html


def synthetic_profile(n_stacks: int, seed: int = 7) -> Profile:
    """``n_stacks`` distinct stacks, 6-40 frames deep, over a few thousand function names."""
    rnd = random.Random(seed)
    funcs = [Frame(f"pkg{rnd.randrange(60)}.{rnd.choice('abcdefgh')}Func{i}") for i in range(4000)]
    prof = Profile(sample_types=[SampleType("cpu", "nanoseconds")])
    seen: set[tuple[int, ...]] = set()
    roots = [rnd.randrange(len(funcs)) for _ in range(12)]
    while len(seen) < n_stacks:
        depth = rnd.randint(6, 40)
        stack = [rnd.choice(roots)]
        # callers share prefixes, as real programs do: draw from a small set near the root
        for level in range(1, depth):
            width = min(len(funcs), 2 + level * 3)
            stack.append(rnd.randrange(width) if rnd.random() < 0.9 else rnd.randrange(len(funcs)))
        key = tuple(stack)
        if key in seen:
            continue
        seen.add(key)
        prof.add([funcs[i] for i in reversed(stack)], [rnd.randint(1, 50) * 10_000_000])
    return prof


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stacks", type=int, default=100_000)
    ap.add_argument("--shot", default=None, help="save a screenshot here")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    t = time.perf_counter()
    prof = synthetic_profile(args.stacks)
    tree = tree_of(prof, 0)
    page_html = render_html(tree, title=f"{args.stacks} stacks", unit="nanoseconds",
                            summary="synthetic")
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flame.html"
        path.write_text(page_html, encoding="utf-8")
        size_mb = path.stat().st_size / 1e6
        opens, zooms, searches = [], [], []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--no-sandbox", "--disable-gpu"])
            for _ in range(args.runs):
                page = browser.new_page(viewport={"width": 1366, "height": 768})
                page.goto(path.as_uri())
                page.wait_for_function("window.flameReady === true", timeout=30_000)
                # navigation start -> first full draw, on the page's own clock
                opens.append(page.evaluate("window.flameReadyAt") / 1000)
                for node in (1, 2, 5, 0):
                    page.evaluate(f"window.flame.setZoom({node})")
                    zooms.append(page.evaluate("window.flameLastDrawMs"))
                page.evaluate("window.flame.search('Func1')")
                searches.append(page.evaluate("window.flameLastDrawMs"))
                if args.shot:
                    page.evaluate("window.flame.reset()")
                    page.screenshot(path=args.shot)
                page.close()
            browser.close()
    print(f"flame: {args.stacks} distinct stacks, {len(tree.node_name)} frames, "
          f"{size_mb:.1f} MB HTML, built in {build_s:.1f} s")
    print(f"flame_open_s={statistics.median(opens):.3f} (median of {args.runs}; limit 2.0)")
    print(f"flame_zoom_redraw_ms={statistics.median(zooms):.1f} max={max(zooms):.1f}")
    print(f"flame_search_redraw_ms={statistics.median(searches):.1f}")
    return 0 if statistics.median(opens) <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
