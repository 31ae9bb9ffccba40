"""The report's Capacity section: the knee and its saturated resource, the curve's steps (the
chart's data inline), the USL fit with its error and predictions; none without a search."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests._capacity import RATES, capacity_doc

from perflab.report import render_report
from perflab.report._capacity import capacity_values
from perflab.store import Store


def _report(tmp_path: Path, meta_update: dict[str, object] | None) -> str:
    with Store.open(tmp_path / "s.db") as store:
        run = store.create_run("capacity", "capacity http://127.0.0.1:8080")
        update = meta_update or {}
        if "capacity" in update and update["capacity"] == "doc":
            update = {"capacity": capacity_doc(run.id)}
        store.finish_run(run.id, "ok", meta_update=update)
        return render_report(store, run.id)


def test_the_section_shows_the_knee_curve_and_fit(tmp_path: Path) -> None:
    html = _report(tmp_path, {"capacity": "doc"})
    assert 'id="section-capacity"' in html
    knee = re.search(r'<p id="capacity-knee">(.*?)</p>', html, re.DOTALL)
    assert knee is not None
    text = re.sub(r"<[^>]+>", "", knee.group(1))
    assert "holds 206/s" in text
    assert "212/s did not" in text
    assert "Saturated resource: cpu" in text
    assert "10 steps in 41.5s" in text
    # one table row per step, sorted by rate; the failing ones say which threshold
    steps = html.split('id="capacity-curve-table"')[1].split("</table>")[0]
    rows = re.findall(r'<tr><td class="num">([^<]+)</td>', steps)
    assert len(rows) == len(RATES)
    assert "FAIL p99&lt;150ms" in html
    data = json.loads(re.search(r'<script id="capacity-data" type="application/json">(.*?)'
                                r"</script>", html, re.DOTALL).group(1))  # type: ignore[union-attr]
    assert data["rate"] == sorted(RATES)
    assert len(data["p99_ms"]) == len(RATES)
    usl = re.search(r'<p id="capacity-usl">(.*?)</p>', html, re.DOTALL)
    assert usl is not None
    assert "(contention)" in usl.group(1)
    assert "±" in usl.group(1)  # four sizes: the parameters' standard errors
    assert "rmse" in usl.group(1)
    table = html.split('id="capacity-usl-table"')[1].split("</table>")[0]
    assert ">8<" in table  # a measured size
    assert ">16<" in table  # a predicted one
    assert "290/s" in table  # the measured throughput beside the prediction


def test_no_search_no_section(tmp_path: Path) -> None:
    assert 'id="section-capacity"' not in _report(tmp_path, None)
    assert 'id="section-capacity"' not in _report(tmp_path / "x", {"capacity": "not a doc"})


def test_a_search_without_knee_or_fit_still_reads(tmp_path: Path) -> None:
    doc = capacity_doc(1, usl=False)
    doc["knee"] = {"rate": None, "rps": None, "resource": "unknown", "upper_rate": 25.0}
    doc["curve"] = [{**p, "p50_ms": None, "p99_ms": None, "cpu_pct": None, "rss_bytes": None}
                    for p in doc["curve"]]
    values = capacity_values({"capacity": doc})
    assert values is not None
    assert values["knee"] is None
    assert values["usl"] is None
    assert values["rows"][0]["p99"] == "-"
    assert values["chart"]["p99_ms"][0] is None
    (tmp_path / "y").mkdir()
    html = _report(tmp_path / "y", {"capacity": doc})
    assert "no rate tried met" in html
