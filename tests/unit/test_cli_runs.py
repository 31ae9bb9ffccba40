"""`perflab record`, `runs`, `show` and `query` through main(argv): output, errors, JSON schemas."""

import datetime as dt
import json
import os

import pytest
from tests._schemas import validate

from perflab.cli import main
from perflab.store import Store

T0 = 1_795_000_000_000_000_000
S = 1_000_000_000


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled(store_path):
    """A store with one finished record run (known values) and one dead 'running' run."""
    with Store.open(store_path) as st:
        run = st.create_run("record", "web", started_ns=T0)
        cpu = st.series_id(run.id, "system.cpu.pct", {"cpu": "all", "mode": "user"}, "%")
        cpu0 = st.series_id(run.id, "system.cpu.pct", {"cpu": "0", "mode": "user"}, "%")
        mem = st.series_id(run.id, "system.mem.available_bytes", None, "bytes")
        rss = st.series_id(run.id, "process.rss_bytes", {"pid": "7", "name": "app"}, "bytes")
        rows = [(cpu, T0 + i * S, float(v)) for i, v in enumerate(range(1, 21))]
        rows += [(cpu0, T0 + i * S, 50.0) for i in range(1, 21)]
        rows += [(mem, T0 + i * S, 2.0 * 1024**3) for i in range(1, 21)]
        rows += [(rss, T0 + i * S, 1024.0 * 1024) for i in range(1, 5)]
        st.insert_samples(rows)
        st.add_event(run.id, "process", "process exited", ts_ns=T0 + 5 * S,
                     attrs={"pid": 7, "name": "app"})
        st.finish_run(run.id, "ok", ended_ns=T0 + 20 * S)
        dead = st.create_run("record", "crashed", started_ns=T0 + 30 * S)
        # a recorder PID that cannot exist: the run was left 'running' by a kill -9
        st.conn.execute("UPDATE runs SET pid = ? WHERE id = ?", (2**22 + 1, dead.id))
    return store_path


def test_runs_lists_newest_first_and_marks_dead_recorders_interrupted(capsys, filled):
    code, out, _ = run_cli(capsys, "runs", "--store", str(filled), "--json")
    assert code == 0
    doc = json.loads(out)
    validate(doc, "runs")
    assert [(r["name"], r["status"], r["series"], r["samples"]) for r in doc["runs"]] == [
        ("crashed", "interrupted", 0, 0), ("web", "ok", 4, 64)]
    assert doc["runs"][1]["duration_s"] == 20.0


def test_runs_table(capsys, filled):
    code, out, _ = run_cli(capsys, "runs", "--store", str(filled))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["id", "kind", "name", "status", "started", "duration", "series",
                                "samples"]
    assert lines[1].split()[:4] == ["2", "record", "crashed", "interrupted"]
    assert lines[2].split()[:4] == ["1", "record", "web", "ok"]
    assert lines[2].split()[-3:] == ["20.0s", "4", "64"]


def test_runs_filters_by_kind_and_name(capsys, filled):
    _, out, _ = run_cli(capsys, "runs", "--store", str(filled), "--name", "web", "--json")
    assert [r["name"] for r in json.loads(out)["runs"]] == ["web"]
    _, out, _ = run_cli(capsys, "runs", "--store", str(filled), "--kind", "load")
    assert out.strip() == "no runs match"


def test_runs_of_a_missing_store_is_a_clear_error(capsys, tmp_path):
    code, _, err = run_cli(capsys, "runs", "--store", str(tmp_path / "nope.db"))
    assert code == 2
    assert "no store at" in err
    assert "hint:" in err
    assert not (tmp_path / "nope.db").exists()


def test_show_gives_statistics_per_series(capsys, filled):
    code, out, _ = run_cli(capsys, "show", "web", "--store", str(filled), "--json")
    assert code == 0
    doc = json.loads(out)
    validate(doc, "show")
    stats = {(s["name"], s["labels"].get("cpu", "")): s for s in doc["series"]}
    cpu = stats[("system.cpu.pct", "all")]
    assert (cpu["count"], cpu["min"], cpu["mean"], cpu["max"], cpu["last"]) == (
        20, 1.0, 10.5, 20.0, 20.0)
    assert cpu["p95"] == 19.0  # nearest rank: ceil(0.95 * 20) = the 19th smallest value
    assert cpu["area"] == "system"
    assert stats[("process.rss_bytes", "")]["area"] == "process"
    assert [e["text"] for e in doc["events"]] == ["process exited"]


def test_show_and_the_dashboard_give_the_same_p95(capsys, filled):
    """One definition of a percentile: `show` and the dashboard's summaries agree exactly."""
    from perflab.store import summarize  # noqa: PLC0415

    code, out, _ = run_cli(capsys, "show", "web", "--store", str(filled), "--json")
    assert code == 0
    shown = {(s["name"], tuple(sorted(s["labels"].items()))): s["p95"]
             for s in json.loads(out)["series"]}
    with Store.open(filled) as st:
        run = st.run("web")
        for series in st.series(run.id):
            key = (series.name, tuple(sorted(series.labels.items())))
            assert shown[key] == summarize(st, series.id).p95, key


def test_show_table_groups_by_area_and_formats_units(capsys, filled):
    code, out, _ = run_cli(capsys, "show", "1", "--store", str(filled))
    assert code == 0
    assert out.splitlines()[0] == (
        "run 1 web · record · ok · " + _local(T0) + " · 20.0s · 4 series · 64 samples")
    lines = [line.split() for line in out.splitlines()]
    assert ["process"] in lines
    assert ["system"] in lines
    assert lines.index(["process"]) < lines.index(["system"])
    assert ['system.cpu.pct{cpu="all",mode="user"}', "1.0%", "10.5%", "20.0%", "19.0%",
            "20.0%"] in lines
    assert ["+", "2", "series", "that", "never", "changed", "(2.00GiB,", "50.0%);", "--all",
            "lists", "them"] in lines
    assert ["+5.00s", "process:", "process", "exited", "name=app", "pid=7"] in lines


def test_show_all_lists_the_series_that_never_changed(capsys, filled):
    """By default constant series fold into one line per area; --all gives each its row."""
    _, out, _ = run_cli(capsys, "show", "1", "--all", "--store", str(filled))
    lines = [line.split() for line in out.splitlines()]
    assert ["system.mem.available_bytes", "2.00GiB", "2.00GiB", "2.00GiB", "2.00GiB",
            "2.00GiB"] in lines
    assert not any(line[:1] == ["+"] for line in lines)


def _local(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / 1e9).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def test_show_last_and_unknown_runs(capsys, filled):
    _, out, _ = run_cli(capsys, "show", "last", "--store", str(filled), "--json")
    assert json.loads(out)["run"]["name"] == "crashed"
    code, _, err = run_cli(capsys, "show", "nosuch", "--store", str(filled))
    assert code == 2
    assert "no run 'nosuch'" in err
    assert "perflab runs" in err


def test_query_prints_time_and_value(capsys, filled):
    code, out, _ = run_cli(capsys, "query", "1", "system.mem.available_bytes", "--store",
                           str(filled))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "time\tsystem.mem.available_bytes (bytes)"
    assert len(lines) == 21
    assert lines[1].split("\t")[1] == "2.14748e+09"


def test_query_json_with_labels_and_a_window(capsys, filled):
    code, out, _ = run_cli(capsys, "query", "web", "system.cpu.pct", "--label", "cpu=all",
                           "--since", "5s", "--until", "7s", "--store", str(filled), "--json")
    assert code == 0
    doc = json.loads(out)
    validate(doc, "query")
    assert [s["labels"] for s in doc["series"]] == [{"cpu": "all", "mode": "user"}]
    assert doc["series"][0]["samples"] == [[T0 + 5 * S, 6.0], [T0 + 6 * S, 7.0],
                                           [T0 + 7 * S, 8.0]]


def test_query_several_label_sets_become_columns(capsys, filled):
    code, out, _ = run_cli(capsys, "query", "1", "system.cpu.pct", "--csv", "--until", "2s",
                           "--store", str(filled))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == ('ts_ns,time,"system.cpu.pct{cpu=""0"",mode=""user""} (%)",'
                        '"system.cpu.pct{cpu=""all"",mode=""user""} (%)"')
    first = lines[1].split(",")
    assert (first[0], first[2:]) == (str(T0), ["", "1.0"])  # no cpu0 sample at T0
    assert lines[2].split(",")[2:] == ["50.0", "2.0"]


@pytest.mark.parametrize(("args", "says"), [
    (("system.cpu.pc",), ("no series system.cpu.pc in run 1", "did you mean system.cpu.pct")),
    (("system.cpu.pct", "--label", "cpu=9"),
     ('its label sets are: {cpu="0",mode="user"}, {cpu="all",mode="user"}',)),
    (("system.cpu.pct", "--since", "yesterday"), ("invalid --since 'yesterday'",)),
    (("system.cpu.pct", "--label", "cpu"), ("key=value",)),
])
def test_query_usage_errors_say_what_is_wrong_and_what_there_is(capsys, filled, args, says):
    """An unknown series or label set names the ones there are; a bad window or label says
    what it expected; all exit 2."""
    code, _, err = run_cli(capsys, "query", "1", *args, "--store", str(filled))
    assert code == 2
    for text in says:
        assert text in err


def test_query_too_many_series_lists_them(capsys, store_path):
    with Store.open(store_path) as st:
        run = st.create_run("record", "many")
        for i in range(12):
            sid = st.series_id(run.id, "process.rss_bytes", {"pid": str(i)}, "bytes")
            st.insert_samples([(sid, T0, 1.0)])
    code, _, err = run_cli(capsys, "query", "1", "process.rss_bytes", "--store", str(store_path))
    assert code == 2
    assert "12 series named process.rss_bytes in run 1:" in err
    assert 'process.rss_bytes{pid="11"}' in err
    assert "--label" in err


def test_record_a_short_run_and_show_it(capsys, store_path):
    code, out, _ = run_cli(capsys, "record", "--duration", "300ms", "--interval", "100ms",
                           "--pid", str(os.getpid()), "--name", "short", "--store",
                           str(store_path), "--json")
    assert code == 0
    doc = json.loads(out)
    validate(doc, "record")
    assert doc["run"]["status"] == "ok"
    assert doc["run"]["name"] == "short"
    # ticks at 0, 100, 200 and 300 ms; on a busy machine a late tick is skipped, not doubled
    assert 2 <= doc["ticks"] <= 4
    assert doc["run"]["meta"]["samples"] == doc["samples"] > 0
    with Store.open(store_path) as st:
        names = {s.name for s in st.series(doc["run"]["id"])}
        assert sum(st.sample_counts(doc["run"]["id"]).values()) == doc["samples"]
    assert {"system.cpu.pct", "process.cpu.pct", "net.tcp.established"} <= names


def test_record_text_summary_says_how_to_look(capsys, store_path):
    code, out, _ = run_cli(capsys, "record", "--duration", "100ms", "--interval", "100ms",
                           "--store", str(store_path))
    assert code == 0
    first, second = out.splitlines()
    assert first.startswith("run 1 (record-")
    assert ": ok, " in first
    assert second == f"look at it: perflab show 1 --store {store_path}"


@pytest.mark.parametrize(("argv", "message"), [
    (["--duration", "soon"], "invalid duration 'soon'"),
    (["--duration", "0"], "--duration must be longer than zero"),
    (["--interval", "0s"], "--interval must be longer than zero"),
])
def test_record_bad_durations_exit_2_without_a_run(capsys, store_path, argv, message):
    code, out, err = run_cli(capsys, "record", *argv, "--store", str(store_path))
    assert code == 2
    assert message in out + err
    assert not store_path.exists()


def test_record_of_a_missing_pid_exits_3_before_creating_a_run(capsys, store_path):
    code, _, err = run_cli(capsys, "record", "--pid", str(2**22 + 1), "--store", str(store_path))
    assert code == 3
    assert f"no process with PID {2**22 + 1}" in err
    assert "hint:" in err
    assert not store_path.exists()


def test_show_json_accepts_every_unit_the_code_writes(capsys, store_path):
    """load.* writes "ms", bench history "sec/op" and "B/op": show's schema must take them all."""
    with Store.open(store_path) as st:
        run = st.create_run("demo", "units", started_ns=T0)
        rows = []
        for i, (name, labels, unit) in enumerate([
                ("load.latency_ms", {"endpoint": "/work", "quantile": "p99"}, "ms"),
                ("bench.value", {"bench": "Encode/format=json-8", "unit": "sec/op"}, "sec/op"),
                ("bench.value", {"bench": "Encode/format=json-8", "unit": "B/op"}, "B/op")]):
            sid = st.series_id(run.id, name, labels, unit)
            rows.append((sid, T0 + (i + 1) * S, 1.5))
        st.insert_samples(rows)
        st.finish_run(run.id, "ok", ended_ns=T0 + 5 * S)
    code, out, _ = run_cli(capsys, "show", "units", "--store", str(store_path), "--json")
    assert code == 0
    doc = json.loads(out)
    validate(doc, "show")
    assert sorted(s["unit"] for s in doc["series"]) == ["B/op", "ms", "sec/op"]
