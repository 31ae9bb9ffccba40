"""The SLOs page: each SLO of ``--slo`` with its error budget left, burn rates now, the burn
rate over time and its alert bands; the SLO's rules loaded into the hub."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _webclient import client_class
from tests.unit.metrics._metricsdata import SLO_SPEC, write_slo_data

from perflab.errors import InvalidFile
from perflab.metrics import HubOptions
from perflab.web import AppConfig, create_app


@pytest.fixture
def client(tmp_path: Path) -> Any:
    path = tmp_path / "perflab.db"
    write_slo_data(path, tmp_path)
    spec = tmp_path / "slo.yml"
    spec.write_text(SLO_SPEC)
    app = create_app(AppConfig(store_path=path, record=False, rollups=False,
                               metrics=HubOptions(default_rules=False,
                                                  slo_files=(str(spec),))))
    with client_class()(app) as c:
        yield c


def test_the_page_shows_budget_burn_rates_chart_data_and_bands(client: Any) -> None:
    r = client.get("/slos?range=6h")
    assert r.status_code == 200
    html = r.text
    assert 'href="/slos"' in html  # in the nav
    assert 'data-slo="checkout-availability"' in html
    # over the day: 2 % errors for 30 of 120 minutes -> ~0.5 % of 1 % budget: ~half left
    found = re.search(r'class="budget-left">.*?([\d.]+)%\s*</td>', html, re.DOTALL)
    assert found is not None
    left = float(found.group(1))
    assert 40 < left < 60
    assert "burn-hot" in html  # the 5m and 1h burn rates are ~2x
    script = re.search(r'id="slos-page">(.*?)</script>', html, re.DOTALL)
    assert script is not None
    doc = json.loads(script.group(1))
    [slo] = doc["slos"]
    assert set(slo["lines"]) == {"5m", "1h", "6h", "3d"}
    recent = [v for v in slo["lines"]["5m"] if v is not None][-5:]
    assert recent
    assert all(1.9 < v < 2.1 for v in recent)
    assert slo["thresholds"] == [3.0, 1.0]  # up to twice the highest burn rate (~2x)
    assert [b["text"] for b in slo["bands"]] == ["SLOErrorBudgetBurnFast firing"]


def test_the_slos_rules_are_loaded(client: Any) -> None:
    groups = client.get("/api/v1/rules").json()["data"]["groups"]
    [group] = [g for g in groups if g["name"] == "slo-checkout-availability"]
    names = {r["name"] for r in group["rules"]}
    assert {"slo:sli_error:ratio_rate5m", "SLOErrorBudgetBurnFast",
            "SLOErrorBudgetBurnSlow"} <= names


def test_without_slos_the_page_says_how_to_add_one(tmp_path: Path) -> None:
    app = create_app(AppConfig(store_path=tmp_path / "s.db", record=False, rollups=False,
                               metrics=HubOptions(default_rules=False)))
    with client_class()(app) as c:
        r = c.get("/slos?range=nonsense")
    assert r.status_code == 200
    assert "perflab serve --slo SPEC" in r.text


def test_a_bad_spec_is_refused_before_the_hub_starts(tmp_path: Path) -> None:
    from perflab.cli.metrics import hub_options  # noqa: PLC0415

    bad = tmp_path / "slo.yml"
    bad.write_text("slos: [{name: x, objective: 120, sli: {events: {good: a, total: b}}}]\n")
    with pytest.raises(InvalidFile):
        hub_options({"metrics_slo": (str(bad),)})
