"""Flame graphs as one self-contained HTML page (canvas, no network) or a static SVG."""

from __future__ import annotations

import html
import zlib
from importlib import resources

from perflab._ui import script_json
from perflab.profile._flame import FlameTree, tree_of
from perflab.profile._model import Profile


def _data_json(tree: FlameTree, *, title: str, unit: str, summary: str, diff: bool,
               icicle: bool) -> str:
    depth, value, base, name = tree.preorder()
    doc: dict[str, object] = {
        "title": title, "unit": unit, "summary": summary, "diff": diff, "icicle": icicle,
        "total": value[0], "names": tree.names, "depth": depth, "value": value, "name": name,
    }
    if diff:
        doc["base"] = base
        doc["base_total"] = base[0]
    return str(script_json(doc))


def render_html(tree: FlameTree, *, title: str, unit: str, summary: str = "",
                diff: bool = False, icicle: bool = False) -> str:
    template = resources.files("perflab.profile").joinpath("flame.html").read_text("utf-8")
    data = _data_json(tree, title=title, unit=unit, summary=summary, diff=diff, icicle=icicle)
    return template.replace("__TITLE__", html.escape(title)).replace("__DATA__", data)


def render_svg(tree: FlameTree, *, title: str, unit: str, summary: str = "",
               diff: bool = False, icicle: bool = False, width: int = 1200) -> str:
    """A static SVG (tooltips through <title>); frames narrower than 0.3 px are left out."""
    depth, value, base, name = tree.preorder()
    n = len(depth)
    total = value[0] or 1
    btotal = base[0] or 1
    w = [((v / total) + (b / btotal)) / 2 for v, b in zip(value, base, strict=True)] if diff \
        else [float(v) for v in value]
    max_delta = max((abs(v / total - b / btotal) for v, b in zip(value, base, strict=True)),
                    default=0.0) if diff else 0.0
    row, top_pad, pad = 17, 44, 10
    max_depth = max(depth) if depth else 0
    height = top_pad + (max_depth + 1) * row + pad
    scale = (width - 2 * pad) / (w[0] or 1)
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">'),
           '<rect width="100%" height="100%" fill="#fbfbfa"/>',
           (f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="15" '
           f'font-family="sans-serif">{html.escape(title)}</text>'),
           (f'<text x="{width / 2}" y="34" text-anchor="middle" fill="#5b6270" '
           f'font-family="sans-serif">{html.escape(summary)}</text>')]
    stack: list[int] = []
    nxt: list[float] = []
    x = [0.0] * n
    i = 0
    while i < n:
        d = depth[i]
        del stack[d:], nxt[d:]
        if d:
            x[i] = nxt[d - 1]
            nxt[d - 1] += w[i]
        stack.append(i)
        nxt.append(x[i])
        pw = w[i] * scale
        if pw < 0.3:
            # skip this frame's subtree: every descendant is at least as thin
            j = i + 1
            while j < n and depth[j] > d:
                j += 1
            i = j
            continue
        px = pad + x[i] * scale
        py = (top_pad + d * row) if icicle else (top_pad + (max_depth - d) * row)
        fname = tree.names[name[i]]
        if diff:
            ns, bs = value[i] / total, base[i] / btotal
            delta = ns - bs
            a = min(1.0, abs(delta) / max_delta) if max_delta else 0.0
            lv = round(235 - 150 * a ** 0.5)
            fill = ("#ececec" if abs(delta) < 1e-9 else
                    f"rgb(250,{lv},{lv})" if delta > 0 else f"rgb({lv},{lv},250)")
            tip = f"{fname}\nbase {100 * bs:.2f}% → new {100 * ns:.2f}% ({100 * delta:+.2f} pp)"
        else:
            r = (zlib.crc32(fname.encode()) & 0xFFFFFFFF) / 2**32
            fill = f"rgb({205 + round(50 * r)},{round(230 * r * 0.8 + 40)},{round(55 * (1 - r))})"
            tip = f"{fname}\n{value[i]} {unit} ({100 * value[i] / total:.2f}%)"
        out.append(f'<g><title>{html.escape(tip)}</title><rect x="{px:.2f}" y="{py}" '
                   f'width="{max(pw - 0.5, 0.3):.2f}" height="{row - 1}" fill="{fill}"/>')
        chars = int((pw - 6) / 6.6)
        if chars >= 3:
            label = fname if len(fname) <= chars else fname[: chars - 1] + "…"
            out.append(f'<text x="{px + 3:.2f}" y="{py + row - 5}">{html.escape(label)}</text>')
        out.append("</g>")
        i += 1
    out.append("</svg>")
    return "\n".join(out) + "\n"


def flame_html(prof: Profile, *, title: str, sample_index: str | None = None,
               icicle: bool = False) -> str:
    """The interactive flame graph page of a profile (for reports and the web UI)."""
    index = prof.sample_index(sample_index)
    st = prof.sample_types[index]
    return render_html(tree_of(prof, index), title=title, unit=st.unit,
                       summary=f"{st.type} · {len(prof.samples)} stacks", icicle=icicle)


def diff_flame_html(base: Profile, new: Profile, *, title: str,
                    sample_index: str | None = None) -> str:
    """The differential flame graph page (red: larger share in ``new``, blue: smaller)."""
    bi, ni = base.sample_index(sample_index), new.sample_index(sample_index)
    tree = tree_of(new, ni, slot=0)
    tree = tree_of(base, bi, tree, slot=1)
    return render_html(tree, title=title, unit=new.sample_types[ni].unit, diff=True,
                       summary="red: larger share in NEW · blue: smaller · normalised by totals")
