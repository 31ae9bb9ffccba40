"""perflab load import on a log written by a real nginx under a perflab load run: the scenario
it makes has the run's mix of endpoints, its rate, and covers the log; run again against the
same nginx, it requests the same endpoints, and its replay sends as many requests as were
logged."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests._schemas import validate
from tests._targets import nginx
from tests.conftest import require_tool

pytestmark = pytest.mark.integration

# every path answers 200 with a short body, whatever the method (nginx's "return")
ANY_PATH = '\n    location / { default_type text/plain; return 200 "ok\\n"; }\n  '
SEED = """
    from perflab.load import Scenario, Session

    seed = Scenario("seed", base_url="{url}", rate=100)
    n = [0]

    def next_id() -> int:
        n[0] += 1
        return n[0]

    @seed.task(weight=6)
    async def user(s: Session) -> None:
        await s.get(f"/users/{{next_id()}}")

    @seed.task(weight=3)
    async def order(s: Session) -> None:
        await s.get(f"/orders/9b1deb4d-3b7d-4bad-9bdd-{{next_id():012d}}/items")

    @seed.task(weight=1)
    async def create(s: Session) -> None:
        await s.post("/api/items", body=b"x" * 100)
"""


def _perflab(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perflab", *map(str, args)],
                          capture_output=True, text=True, timeout=180, check=False)


def _load(url: str, scenario: Path, store: Path, *args: str) -> dict:
    r = _perflab("load", "run", url, "-s", scenario, "--workers", "1", "--store", store,
                 "--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_import_a_real_nginx_log_and_run_it_again(tmp_path):
    log = tmp_path / "access.log"
    with nginx(require_tool("nginx"), tmp_path / "nginx", location=ANY_PATH,
               access_log=log) as (url, _proc):
        seed = tmp_path / "seed.py"
        seed.write_text(textwrap.dedent(SEED.format(url=url.rstrip("/"))))
        first = _load(url, seed, tmp_path / "s.db", "-d", "3")
        recorded = tmp_path / "recorded.log"  # the seed's requests only
        recorded.write_text(log.read_text())
        # nginx also logs what it answered after the run's drain ended (unfinished, on a busy
        # machine: 3 of 300 once under stress-ng)
        logged = len(recorded.read_text().splitlines())
        assert first["requests"] <= logged <= first["requests"] + first["unfinished"]

        scenario = tmp_path / "imported.py"
        r = _perflab("load", "import", recorded, "-o", scenario, "--json")
        assert r.returncode == 0, r.stderr
        doc = validate(r.stdout, "load-import")
        assert doc["format"] == "combined"
        shares = {e["endpoint"]: e["share_pct"] for e in doc["endpoints"]}
        assert set(shares) == {"GET /users/{id}", "GET /orders/{uuid}/items",
                               "POST /api/items"}
        # the weights 6:3:1, drawn at random ~300 times
        assert 45 < shares["GET /users/{id}"] < 75
        assert 15 < shares["GET /orders/{uuid}/items"] < 45
        assert 2 < shares["POST /api/items"] < 20
        # nginx logs whole seconds: 3 s of requests at 100/s span 3 or 4 of them
        assert 60 < doc["rate_per_s"] <= 110
        assert doc["unmapped"] == []

        cov = _perflab("load", "coverage", scenario, "--against", recorded, "--json")
        assert cov.returncode == 0, cov.stderr
        assert validate(cov.stdout, "load-coverage")["coverage_pct"] == 100.0

        again = _load(url, scenario, tmp_path / "s.db", "-d", "2",
                      "--coverage-against", recorded)
        validate(again, "load")
        assert set(again["requests_by_name"]) == set(shares)
        assert again["coverage"]["coverage_pct"] == 100.0
        # the report's load section says it too
        html = tmp_path / "report.html"
        r = _perflab("report", str(again["run_id"]), "--store", tmp_path / "s.db", "-o", html)
        assert r.returncode == 0, r.stderr
        assert 'id="load-coverage"' in html.read_text()
        assert "coverage  100.0 % of" in html.read_text()
        # a plain URL test exercises one endpoint of the three: its share, and the others
        plain = _perflab("load", "run", f"{url}users/7", "-d", "1", "--rate", "20",
                         "--workers", "1", "--store", tmp_path / "s.db",
                         "--coverage-against", recorded)
        assert plain.returncode == 0, plain.stderr
        assert f"coverage  {shares['GET /users/{id}']:.1f} % of" in plain.stdout
        assert "missed (by share of production traffic):" in plain.stdout

        replay = tmp_path / "replay.py"
        r = _perflab("load", "import", recorded, "-o", replay, "--replay", "--json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["run_args"] == ["-d", f"{doc['span_s']:g}s"]  # the recording's length
        before = len(log.read_text().splitlines())
        replayed = _load(url, replay, tmp_path / "s.db", *doc["run_args"])
        assert replayed["requests"] == pytest.approx(first["requests"], abs=2)
        assert len(log.read_text().splitlines()) - before == replayed["requests"]


def test_a_jmeter_plan_runs_against_nginx_with_its_checks(tmp_path):
    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "load_import"
    (tmp_path / "users.csv").write_text((fixtures / "users.csv").read_text())
    api = ('\n    location /api/ { default_type application/json; return 200 \'{"ok": 1}\'; }'
           '\n    location = /health { default_type text/plain; return 200 "ok\\n"; }\n  ')
    log = tmp_path / "access.log"
    with nginx(require_tool("nginx"), tmp_path / "nginx", location=api,
               access_log=log) as (url, _proc):
        scenario = tmp_path / "plan.py"
        r = _perflab("load", "import", fixtures / "shop.jmx", "-o", scenario,
                     "--base-url", url.rstrip("/"))
        assert r.returncode == 0, r.stderr
        assert "IfController" in r.stderr  # what does not map is listed
        run = _load(url, scenario, tmp_path / "s.db", "-d", "2")
    assert set(run["requests_by_name"]) == {"GET /api/v1/users/{id}", "POST /api/v1/orders",
                                            "GET /health"}
    checks = run["checks"]
    assert set(checks) == {"GET /api/v1/users/{id}: status 200", "POST /api/v1/orders: created",
                           "GET /health: healthy"}
    assert all(c["passed"] > 0 and c["failed"] == 0 for c in checks.values())
    # the CSV's ids and names reached nginx
    logged = log.read_text()
    assert "GET /api/v1/users/17?fields=name%2Cemail" in logged
    assert "GET /api/v1/users/42?fields=name%2Cemail" in logged
