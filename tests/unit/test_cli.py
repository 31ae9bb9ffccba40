"""The command line's contract: exit codes, one-line errors, lazy imports."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

import pytest

from perflab import cli
from perflab.cli import COMMANDS, main


def test_help_lists_every_registered_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error(capsys):
    assert main(["--bogus"]) == 2
    assert "--bogus" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert "perflab" in capsys.readouterr().out


def test_the_entry_point_exits_without_walking_the_commands_objects(monkeypatch, capsys):
    """``perflab`` (and ``python -m perflab``) freezes the collector once the command is
    done: the interpreter's exit then skips the search for cycles among every object
    numpy, click and the store made (tens of ms after a load test's figures were printed).
    The command's exit code is kept."""
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(sys, "argv", ["perflab", "--version"])
    with pytest.raises(SystemExit) as exited:
        cli.run()
    assert exited.value.code == 0
    assert frozen == [True]
    assert "perflab" in capsys.readouterr().out


def test_ctrl_c_before_the_command_line_is_imported_is_one_line(monkeypatch, capsys):
    """`perflab load URL` starts a worker before importing the command line; a Ctrl-C in that
    window exits 130 with the command line's one line, not a traceback."""
    from perflab import __main__ as entry  # noqa: PLC0415  # the module python -m runs
    from perflab.load import WorkerPool  # noqa: PLC0415

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(WorkerPool, "start_early", staticmethod(interrupted))
    monkeypatch.setattr(sys, "argv", ["perflab", "load", "http://127.0.0.1:8080/"])
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == 130
    assert capsys.readouterr().err == "perflab: error: interrupted\n"


def test_every_command_module_resolves_and_has_help():
    """Each COMMANDS entry names an importable click command whose --help works."""
    for name in COMMANDS:
        assert main([name, "--help"]) == 0, name


def test_help_does_not_import_heavy_modules():
    """`perflab --help` stays fast because commands (and numpy, rich, starlette...) load lazily."""
    code = (
        "import sys, json\n"
        "from perflab.cli import main\n"
        "main(['--help'])\n"
        "heavy = {'numpy', 'scipy', 'starlette', 'uvicorn', 'psutil', 'sqlite3', 'uvloop'}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    # not under coverage's subprocess measurement: coverage itself keeps its data in sqlite3
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("argv", [["-h"], ["--help"]])
def test_python_dash_m_works(argv):
    out = subprocess.run([sys.executable, "-m", "perflab", *argv], capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0
    assert "Commands" in out.stdout


@pytest.mark.parametrize("argv", [
    ["net", "--interval", "0ms"],
    ["record", "--duration", "0"],
    ["load", "http://127.0.0.1:9/", "--duration", "0s"],
    ["load", "http://127.0.0.1:9/", "--timeout", "0s"],
    ["profile", "capture", "1", "--duration", "0s"],
    ["ebpf", "syscalls", "--duration", "0"],
    ["bench", "system", "--interval", "0s"],
])
def test_a_zero_duration_is_refused_before_anything_runs(capsys, argv):
    """Zero seconds to trace, profile, wait or load is a mistake: one line, exit 2, at once
    (the load target here is a discard port nobody listens on: it is never dialled). `top`
    has a floor of its own (tests/integration/test_top_cli.py); `proc --interval 0` means
    totals only (tests/unit/test_proc_view.py)."""
    option = next(a for a in argv if a.startswith("--") and a != "--once")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"perflab: error: {option} must be longer than zero" in err
    assert f"hint: e.g. {option} 1s" in err
