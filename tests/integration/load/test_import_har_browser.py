"""perflab load import on a HAR that headless Chromium wrote (Playwright records it from the
DevTools protocol's network events) while loading a page from a real nginx: the page's own
requests become a scenario that runs against the same nginx."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests._schemas import validate
from tests._targets import nginx
from tests.conftest import require_tool

pytestmark = pytest.mark.integration

API = """
    location /api/ { default_type application/json; return 200 '{"ok": true}'; }
  """
PAGE = """<!doctype html><html><head><link rel="icon" href="data:,"></head><body><script>
async function main() {
  for (const id of [1, 2, 3]) { await fetch(`/api/items/${id}`); }
  await fetch("/api/cart", {method: "POST", headers: {"Content-Type": "application/json"},
                            body: JSON.stringify({item: 2, qty: 1})});
  document.body.dataset.done = "1";
}
main();
</script></body></html>
"""


def _perflab(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perflab", *map(str, args)],
                          capture_output=True, text=True, timeout=180, check=False)


def test_import_a_har_chromium_recorded(browser: Any, tmp_path: Path) -> None:
    root = tmp_path / "nginx"
    (root / "www").mkdir(parents=True)
    (root / "www" / "shop.html").write_text(PAGE)
    har = tmp_path / "shop.har"
    with nginx(require_tool("nginx"), root, location=API) as (url, _proc):
        ctx = browser.new_context(record_har_path=str(har))
        try:
            page = ctx.new_page()
            page.goto(f"{url}shop.html")
            page.wait_for_function("document.body.dataset.done === '1'", timeout=20_000)
        finally:
            ctx.close()  # the HAR is written when its context closes
        assert json.loads(har.read_text())["log"]["version"] == "1.2"

        scenario = tmp_path / "shop.py"
        r = _perflab("load", "import", har, "-o", scenario, "--json")
        assert r.returncode == 0, r.stderr
        doc = validate(r.stdout, "load-import")
        assert doc["source"] == "har"
        assert doc["base_url"] == url.rstrip("/")
        requests = {e["endpoint"]: e for e in doc["endpoints"]}
        assert requests["GET /api/items/{id}"]["requests"] == 3
        assert requests["POST /api/cart"]["body_bytes_max"] == len('{"item":2,"qty":1}')
        assert "GET /shop.html" in requests
        assert '{"item":2,"qty":1}' in scenario.read_text()

        r = _perflab("load", "run", "-s", scenario, "-d", "1", "--workers", "1",
                     "--store", tmp_path / "s.db", "--json")
        assert r.returncode == 0, r.stderr
        run = json.loads(r.stdout)
        # the mix is drawn at random by weight: a one-second run on a busy machine may not
        # reach the page itself (one request in five), but never sends anything else
        assert set(run["requests_by_name"]) <= set(requests)
        assert "GET /api/items/{id}" in run["requests_by_name"]
        assert all(v["failed"] == 0 for v in run["requests_by_name"].values())
