"""The metrics commands through main(argv): answers, exit codes, one-line errors, --json."""

from __future__ import annotations

import json

import pytest
from _metricsdata import T0
from tests._schemas import validate

from perflab.cli import main


def _json(capsys: pytest.CaptureFixture[str], name: str) -> dict:
    doc = json.loads(capsys.readouterr().out)
    return validate(doc, name)


def test_promql_instant_and_range(imported, capsys):
    path, run_id = imported
    assert main(["promql", 'http_requests_total{code="500"}', "--time", str(T0 + 600),
                 "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert f'http_requests_total{{code="500", job="api", perflab_run="{run_id}"}}' in out
    assert out.rstrip().endswith("10")
    assert main(["promql", "sum(rate(http_requests_total[1m]))", "--time", str(T0 + 600),
                 "--range", "5m", "--step", "1m", "--store", str(path), "--json"]) == 0
    doc = _json(capsys, "promql")
    assert doc["resultType"] == "matrix"
    assert len(doc["result"][0]["values"]) == 6


def test_promql_errors_are_one_line_exit_2(imported, capsys):
    path, _ = imported
    assert main(["promql", "rate(x)", "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("perflab: error: 1:")
    assert "Traceback" not in err
    assert main(["promql", "up", "--range", "1fortnight", "--store", str(path)]) == 2


def test_metrics_import_json_and_bad_files(tmp_path, capsys):
    data = tmp_path / "m.prom"
    data.write_text("a 1 1000\na 2 2000\n")
    store = str(tmp_path / "s.db")
    assert main(["metrics", "import", str(data), "--store", store, "--json"]) == 0
    doc = _json(capsys, "metrics-import")
    assert (doc["samples"], doc["series"], doc["format"]) == (2, 1, "prometheus")
    assert (doc["first_ns"], doc["last_ns"]) == (1_000_000_000, 2_000_000_000)
    bad = tmp_path / "bad.prom"
    bad.write_text("a 1\nb{ 2\n")
    assert main(["metrics", "import", str(bad), "--store", store]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:" in err
    assert main(["metrics", "import", str(tmp_path / "none"), "--store", store]) == 2


def test_metrics_import_of_openmetrics_in_milliseconds_is_a_one_line_error(tmp_path, capsys):
    """OpenMetrics takes seconds: a file written in milliseconds overflowed the store's
    nanoseconds (an OverflowError traceback) instead of saying what is wrong."""
    data = tmp_path / "ms.om"
    data.write_text("# TYPE a gauge\na 1 1733200000000\n# EOF\n")
    store = str(tmp_path / "s.db")
    assert main(["metrics", "import", str(data), "--store", store]) == 2
    err = capsys.readouterr().err
    assert "past the year 2262" in err
    assert "timestamps in seconds" in err
    assert "Traceback" not in err


def test_rules_check_and_test_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.yml"
    good.write_text("groups: [{name: g, rules: [{record: a:b, expr: sum(up)}]}]\n")
    assert main(["rules", "check", str(good)]) == 0
    assert "SUCCESS: 1 rules found" in capsys.readouterr().out
    bad = tmp_path / "bad.yml"
    bad.write_text("groups: [{name: g, rules: [{alert: A, expr: 'up ==='}]}]\n")
    assert main(["rules", "check", str(good), str(bad), "--json"]) == 1
    doc = _json(capsys, "rules-check")
    assert [f["ok"] for f in doc["files"]] == [True, False]
    test = tmp_path / "t.yml"
    test.write_text(f"""rule_files: [{good}]
tests:
  - interval: 1m
    input_series: [{{series: 'up{{job="a"}}', values: '1 1 1'}}]
    promql_expr_test:
      - expr: a:b
        eval_time: 1m
        exp_samples: [{{labels: 'a:b', value: 2}}]
""")
    assert main(["rules", "test", str(test), "--json"]) == 1
    doc = _json(capsys, "rules-test")
    assert 'exp: {__name__="a:b"} 2E+00' in doc["files"][0]["errors"][0]


def test_silences_add_list_expire(tmp_path, capsys):
    store = str(tmp_path / "s.db")
    assert main(["alerts", "silence", "add", "alertname=Disk", 'job=~"node.*"', "--comment",
                 "maintenance", "--author", "ops", "--store", store, "--json"]) == 0
    sid = _json(capsys, "silence")["id"]
    assert main(["alerts", "silence", "ls", "--store", store, "--json"]) == 0
    [s] = _json(capsys, "silences")["silences"]
    assert s["matchers"] == [["alertname", "=", "Disk"], ["job", "=~", "node.*"]]
    assert (s["created_by"], s["comment"], s["active"]) == ("ops", "maintenance", True)
    assert main(["alerts", "silence", "expire", str(sid), "--store", store]) == 0
    assert main(["alerts", "silence", "ls", "--store", store, "--json"]) == 0
    assert _json(capsys, "silences")["silences"] == []
    assert main(["alerts", "silence", "expire", str(sid), "--store", store]) == 2
    assert main(["alerts", "silence", "add", 'job=~"("', "--store", store]) == 2


def test_serve_refuses_bad_metrics_files_before_serving(tmp_path, capsys):
    bad = tmp_path / "p.yml"
    bad.write_text("scrape_configs: [{job_name: a, kubernetes_sd_configs: []}]\n")
    assert main(["serve", "--store", str(tmp_path / "s.db"), "--scrape", str(bad),
                 "--listen", "127.0.0.1:0"]) == 2
    assert "kubernetes_sd_configs is not supported" in capsys.readouterr().err
    rules = tmp_path / "r.yml"
    rules.write_text("groups: [{name: g, rules: [{alert: A, expr: 'rate(x)'}]}]\n")
    assert main(["serve", "--store", str(tmp_path / "s.db"), "--rules", str(rules),
                 "--listen", "127.0.0.1:0"]) == 2


def test_slo_rules_are_the_workbooks_burn_rates(tmp_path, capsys):
    spec = tmp_path / "slo.yml"
    spec.write_text("""
slos:
  - name: api-availability
    service: api
    objective: 99.9
    sli:
      events:
        good: sum(rate(http_requests_total{code!~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
""")
    out = tmp_path / "rules.yml"
    assert main(["slo", "rules", str(spec), "-o", str(out)]) == 0
    assert main(["rules", "check", str(out)]) == 0
    text = out.read_text()
    for long, short, factor in (("1h", "5m", "14.4"), ("6h", "30m", "6"), ("1d", "2h", "3"),
                                ("3d", "6h", "1")):
        assert f"ratio_rate{long}" in text
        assert f"ratio_rate{short}" in text
        assert f"({factor} * 0.001)" in text


def test_a_stored_matcher_reads_back_as_the_documents_give_it():
    from perflab.metrics import matcher_tuple  # noqa: PLC0415

    assert matcher_tuple(["job", "=~", "node.*"]) == ("job", "=~", "node.*")
    with pytest.raises(ValueError, match="operator"):
        matcher_tuple(["job", "~", "node"])
