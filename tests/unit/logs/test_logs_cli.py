"""``perflab logs query`` and ``perflab logs tail``: LogQL on the command line (--json against
its schema, --run, errors with their column), and files followed through rotation and
truncation."""

from __future__ import annotations

import json
import time
from typing import Any

from click.testing import CliRunner
from tests._schemas import validate

from perflab.cli import cli, main
from perflab.logs import FileTail, LogEntry, LogSink, query_range
from perflab.store import Store, canonical_labels


def _fill(store: Store, run_id: int | None, lines: list[str], t0: int) -> None:
    sink = LogSink(run_id=lambda: run_id, clock=lambda: 0.0)
    with store.transaction():
        sink.write(store, [LogEntry(canonical_labels({"job": "api"}), t0 + i, line)
                           for i, line in enumerate(lines)])


def test_query_prints_lines_and_json_matches_its_schema(store):
    now = time.time_ns()
    _fill(store, None, ["level=info a=1", "level=error a=2"], now - 10**9)
    store.close()
    args = ["logs", "query", '{job="api"} | logfmt | level="error"', "--store", str(store.path)]
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 0, text.output
    assert text.output.rstrip().endswith('{a="2", job="api", level="error"} level=error a=2')
    result = CliRunner().invoke(cli, [*args, "--json"])
    doc = json.loads(result.output)
    validate(doc, "logs-query")
    assert doc["data"]["result"][0]["values"][0][1] == "level=error a=2"


def test_metric_query_json_is_a_matrix(store):
    now = time.time_ns()
    _fill(store, None, ["x", "y"], now - 5 * 10**9)
    store.close()
    result = CliRunner().invoke(cli, ["logs", "query", 'sum(count_over_time({job="api"}[1m]))',
                                      "--since", "2m", "--step", "30s", "--store",
                                      str(store.path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    validate(doc, "logs-query")
    assert doc["data"]["resultType"] == "matrix"
    assert doc["data"]["result"][0]["values"][-1][1] == "2"


def test_run_limits_the_lines_to_that_run(store):
    run = store.create_run("record", "with-logs")
    _fill(store, run.id, ["in the run"], run.started_ns + 10)
    _fill(store, None, ["outside"], run.started_ns + 20)
    store.close()
    result = CliRunner().invoke(cli, ["logs", "query", '{job="api"}', "--run", "with-logs",
                                      "--store", str(store.path), "--json"])
    doc = json.loads(result.output)
    assert doc["run_id"] == run.id
    assert [v[1] for v in doc["data"]["result"][0]["values"]] == ["in the run"]


def test_invalid_logql_is_exit_2_naming_the_column(store, capsys):
    store.close()
    assert main(["logs", "query", '{job="api"} |= ', "--store", str(store.path)]) == 2
    err = capsys.readouterr().err
    assert "perflab: error: invalid LogQL at column 16: expected a string" in err
    assert "Traceback" not in err


def test_an_unknown_run_is_exit_2(store, capsys):
    store.close()
    assert main(["logs", "query", '{job="api"}', "--run", "nope", "--store",
                 str(store.path)]) == 2
    assert "no run" in capsys.readouterr().err


def _lines(store: Store) -> list[str]:
    data: Any = query_range(store, '{job="t"}', 0, 2**62, limit=1000, backward=False)
    return [v[1] for s in data["result"] for v in s["values"]]


def test_tail_follows_appends_rotation_and_truncation(store, tmp_path):
    log = tmp_path / "app.log"
    log.write_text("before start\n")
    clock = iter(range(1, 1000))
    tail = FileTail(store, [str(log)], {"job": "t"}, wall=lambda: next(clock))
    assert tail.poll() == 0                           # what was there: skipped
    with log.open("a") as f:
        f.write("one\ntw")
    assert tail.poll() == 1                           # a partial line waits
    with log.open("a") as f:
        f.write("o\n")
    tail.poll()
    with log.open("a") as f:
        f.write("last of old\n")
    log.rename(tmp_path / "app.log.1")            # rotation: renamed, a new file made
    log.write_text("first of new\n")
    tail.poll()
    log.write_text("cut\n")                           # copytruncate: shorter than read
    tail.poll()
    tail.close()
    assert _lines(store) == ["one", "two", "last of old", "first of new", "cut"]
    result: Any = query_range(store, '{job="t"}', 0, 2**62)["result"]
    assert result[0]["stream"] == {"job": "t", "filename": str(log)}


def test_tail_command_once_reads_the_files(store, tmp_path):
    store.close()
    log = tmp_path / "x.log"
    log.write_text('{"level":"error","msg":"boom"}\nplain\n')
    result = CliRunner().invoke(cli, ["logs", "tail", str(log), "--label", "job=t", "--once",
                                      "--store", str(store.path)])
    assert result.exit_code == 0, result.output
    with Store.open(store.path) as st:
        assert _lines(st) == ['{"level":"error","msg":"boom"}', "plain"]


def test_metric_query_text_output_lists_each_series_points(store):
    now = time.time_ns()
    _fill(store, None, ["x"], now - 10**9)
    store.close()
    result = CliRunner().invoke(cli, ["logs", "query", 'count_over_time({job="api"}[1m])',
                                      "--since", "1m", "--step", "1m", "--store",
                                      str(store.path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == '{job="api"}'
    assert lines[-1].endswith("  1")


def test_a_bad_since_is_exit_2(store, capsys):
    store.close()
    assert main(["logs", "query", '{job="api"}', "--since", "soon", "--store",
                 str(store.path)]) == 2
    assert "--since" in capsys.readouterr().err
