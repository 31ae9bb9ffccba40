"""The Go workload (tests/fixtures/go/workload) built once per session with Debian's go, in a
temporary GOCACHE/GOPATH (standard library only: no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import require_tool


@dataclass(frozen=True)
class GoWorkload:
    go: str
    binary: Path
    env: dict[str, str]
    workdir: Path

    def run(self, *args: str, timeout: float = 60) -> str:
        out = subprocess.run([str(self.binary), *args], env=self.env, check=True,
                             capture_output=True, text=True, timeout=timeout)
        return out.stdout

    def pprof_top(self, path: Path, *options: str) -> str:
        out = subprocess.run([self.go, "tool", "pprof", "-top", *options, str(path)],
                             env=self.env, check=True, capture_output=True, text=True,
                             timeout=60)
        return out.stdout


@pytest.fixture(scope="session")
def go_workload(tmp_path_factory: pytest.TempPathFactory) -> GoWorkload:
    go = require_tool("go")
    src = Path(__file__).resolve().parents[2] / "fixtures" / "go" / "workload"
    work = tmp_path_factory.mktemp("go")
    build = work / "src"
    shutil.copytree(src, build)
    env = {**os.environ, "GOCACHE": str(work / "cache"), "GOPATH": str(work / "gopath"),
           "GOFLAGS": "", "GO111MODULE": "on", "CGO_ENABLED": "0", "GOPROXY": "off",
           "HOME": str(work)}
    binary = work / "workload"
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=build, env=env, check=True,
                   capture_output=True, timeout=240)
    # the same program without its symbol table, as shipped binaries often are
    subprocess.run([go, "build", "-ldflags=-s -w", "-o", str(work / "workload-stripped"), "."],
                   cwd=build, env=env, check=True, capture_output=True, timeout=240)
    return GoWorkload(go=go, binary=binary, env=env, workdir=work)


@pytest.fixture(scope="session")
def go_profiles(go_workload: GoWorkload) -> dict[str, Path]:
    """A CPU profile (1.5 s of the CPU-bound mix) and a heap profile, written by runtime/pprof."""
    cpu = go_workload.workdir / "cpu.pb.gz"
    heap = go_workload.workdir / "heap.pb.gz"
    go_workload.run("cpu", str(cpu), "1.5")
    go_workload.run("heap", str(heap))
    return {"cpu": cpu, "heap": heap}
