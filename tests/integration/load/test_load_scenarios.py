"""Scenario files against the test server: extraction, feeders, checks, several models."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from perflab.cli import main
from perflab.store import Store

pytestmark = pytest.mark.integration


def write(tmp_path, name: str, body: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_a_scenario_logs_in_extracts_a_token_and_uses_it(test_server, tmp_path, store_path,
                                                         capsys):
    srv = test_server()
    (tmp_path / "users.csv").write_text("user,password\nalice,a\nbob,b\ncarol,c\n")
    scenario = write(tmp_path, "shop.py", f"""
        from perflab.load import Scenario, Session, csv_feeder

        users = csv_feeder("users.csv")
        thresholds = ["p99<5s", "checks>99%"]

        shop = Scenario("shop", base_url="{srv.url}", connections=3, think_time="5ms")
        api = Scenario("api", base_url="{srv.url}", rate=100)

        @shop.task(weight=3)
        async def browse(s: Session) -> None:
            r = await s.get("/items", name="items")
            s.check("items listed", r.status == 200)
            first = r.json()["items"][0]
            r = await s.get(f"/item/{{first}}", name="item")
            s.check("unknown item is 404", r.status == 404)

        @shop.task(weight=1)
        async def login(s: Session) -> None:
            user = users.next()
            r = await s.post("/login", json={{"user": user["user"]}}, name="login")
            token = r.json()["token"]
            me = await s.get("/me", headers={{"Authorization": f"Bearer {{token}}"}}, name="me")
            s.check("token accepted", me.status == 200)

        @api.task()
        async def ping(s: Session) -> None:
            r = await s.get("/", name="ping")
            s.check("ping ok", r.ok)
    """)
    rc = main(["load", "run", "-s", str(scenario), "-d", "2", "--workers", "2",
               "--store", str(store_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0, doc
    checks = doc["checks"]
    assert set(checks) == {"items listed", "unknown item is 404", "token accepted", "ping ok"}
    assert all(c["failed"] == 0 and c["passed"] > 0 for c in checks.values())
    by_name = doc["requests_by_name"]
    assert set(by_name) == {"items", "item", "login", "me", "ping"}
    # the open scenario holds its own rate beside the closed one
    assert by_name["ping"]["requests"] == pytest.approx(200, abs=4)
    # weights 3:1 over many iterations
    assert 1.5 < by_name["items"]["requests"] / by_name["login"]["requests"] < 6
    # failures per name: every /item/N is a 404 (the check expects it), nothing else failed
    assert by_name["item"]["failed"] == by_name["item"]["requests"] > 0
    assert all(by_name[n]["failed"] == 0 for n in ("items", "login", "me", "ping"))
    assert [t["passed"] for t in doc["thresholds"]] == [True, True]
    assert doc["status_codes"].keys() == {"200", "404"}


def test_a_scenario_that_raises_shows_the_users_traceback_and_exits_2(
        test_server, tmp_path, store_path, capsys):
    srv = test_server()
    scenario = write(tmp_path, "bad.py", f"""
        from perflab.load import Scenario

        web = Scenario("web", base_url="{srv.url}", connections=1)

        def token_of(doc):
            return doc["token"]

        @web.task()
        async def home(s):
            r = await s.get("/items")
            token_of(r.json())
    """)
    rc = main(["load", "run", "-s", str(scenario), "-d", "5", "--workers", "1",
               "--store", str(store_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f'File "{scenario}", line 7, in token_of' in err
    assert "KeyError: 'token'" in err
    assert "perflab/load" not in err  # the user's frames, not ours
    with Store.open(store_path) as store:
        run = store.run("last")
        assert run.status == "failed"
        assert run.meta["summary"]["requests"] >= 1


def test_a_scenario_file_that_fails_to_import_is_a_usage_error(tmp_path, store_path, capsys):
    scenario = write(tmp_path, "broken.py", """
        from perflab.load import Scenario
        web = Scenario("web", base_url="http://127.0.0.1:9/")
        1 / 0
    """)
    assert main(["load", "run", "-s", str(scenario), "--store", str(store_path)]) == 2
    err = capsys.readouterr().err
    assert "ZeroDivisionError" in err
    assert f'File "{scenario}", line 4' in err


def test_a_scenario_file_without_scenarios_says_what_to_write(tmp_path, store_path, capsys):
    scenario = write(tmp_path, "empty.py", "x = 1\n")
    assert main(["load", "run", "-s", str(scenario), "--store", str(store_path)]) == 2
    assert "defines no Scenario" in capsys.readouterr().err


def test_a_scenario_sends_head_and_keeps_using_the_connection(nginx_url, tmp_path, store_path,
                                                               capsys):
    """nginx answers HEAD with a Content-Length and no body: the response ends with its
    headers, and the next request on the same connection is read as its own."""
    (tmp_path / "nginx" / "www" / "page").write_text("x" * 1000)
    scenario = write(tmp_path, "head.py", f"""
        from perflab.load import Scenario, Session

        web = Scenario("web", base_url="{nginx_url.rstrip('/')}", connections=1)

        @web.task()
        async def probe(s: Session) -> None:
            h = await s.head("/page", name="head")
            s.check("head has no body", h.status == 200 and h.body == b"")
            s.check("head tells the length", h.headers.get("content-length") == "1000")
            g = await s.get("/page", name="get")
            s.check("get has the body", g.status == 200 and len(g.body) == 1000)
    """)
    rc = main(["load", "run", "-s", str(scenario), "-n", "200", "--timeout", "2s",
               "--workers", "1", "--store", str(store_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0, doc
    assert all(c["failed"] == 0 and c["passed"] >= 99 for c in doc["checks"].values()), doc
    assert set(doc["requests_by_name"]) == {"head", "get"}
    assert doc["errors"] == {}
    assert doc["latency_ms"]["max"] < 1000  # no HEAD waited out a timeout for a body


def test_the_scenario_example_of_the_docs_runs_against_the_docs_test_server(
        test_server, tmp_path, store_path, capsys):
    """docs/load.md's scenario, as printed, against `python -m perflab.load._testserver`:
    every request answered 200 and every check passed (it got 404s once)."""
    docs = Path(__file__).resolve().parents[3] / "docs" / "load.md"
    text = docs.read_text()
    start = text.index("```python\nfrom perflab.load import Scenario")
    code = text[start + len("```python\n"):text.index("```", start + 10)]
    srv = test_server()
    assert "http://127.0.0.1:8080" in code
    (tmp_path / "shop.py").write_text(code.replace("http://127.0.0.1:8080", srv.url))
    (tmp_path / "users.csv").write_text("name\nalice\nbob\n")  # beside the file, as the docs
    rc = main(["load", "run", "-s", str(tmp_path / "shop.py"), "-d", "2", "--workers", "1",
               "--store", str(store_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["status_codes"].keys() == {"200"}, doc["status_codes"]
    assert all(c["failed"] == 0 for c in doc["checks"].values()), doc["checks"]
    assert all(n["failed"] == 0 for n in doc["requests_by_name"].values())
    assert rc == 0, doc["thresholds"]
