"""Real Prometheus and Alertmanager for the metrics tests and benchmarks: started on free
loopback ports, stopped on every exit path."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from perflab.testing import free_port


def get_json(url: str, params: dict[str, Any] | None = None, timeout: float = 30) -> Any:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback
        return json.loads(resp.read())


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # loopback
                return
        except (OSError, urllib.error.URLError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} never became ready") from None
            time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def _peer(name: str, binary: str, config: str, workdir: Path, *flags: str,
          port: int | None = None) -> Iterator[str]:
    """``binary`` with this configuration text (WORKDIR/NAME.yml) on loopback (``port``, or a
    free one), its output in WORKDIR/NAME.log; yields its base URL once it is ready, stops it on
    every exit path."""
    port = port or free_port()
    path = workdir / f"{name}.yml"
    path.write_text(config)
    log = (workdir / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={path}", f"--web.listen-address=127.0.0.1:{port}",
         "--log.level=warn", *flags], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + "/-/ready", proc)
        yield url
    finally:
        stop(proc)
        log.close()


@contextlib.contextmanager
def prometheus(binary: str, config: str, workdir: Path, *, storage: Path | None = None,
               port: int | None = None) -> Iterator[str]:
    """A Prometheus with this configuration text (on ``port``, or a free one: a configuration
    that scrapes Prometheus itself names its port); yields its base URL."""
    data = storage or workdir / "prom-data"
    with _peer("prometheus", binary, config, workdir, f"--storage.tsdb.path={data}",
               "--web.enable-lifecycle", port=port) as url:
        yield url


@contextlib.contextmanager
def alertmanager(binary: str, config: str, workdir: Path) -> Iterator[str]:
    """An Alertmanager with this configuration text; yields its base URL."""
    with _peer("alertmanager", binary, config, workdir,
               f"--storage.path={workdir / 'am-data'}",
               f"--cluster.listen-address=127.0.0.1:{free_port()}") as url:
        yield url


def same_answers(ours: list[dict[str, Any]], theirs: list[dict[str, Any]],
                 rel: float = 1e-9) -> list[str]:
    """Differences between two query_range results (perflab's perflab_run label ignored)."""
    def key(s: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((k, v) for k, v in s["metric"].items() if k != "perflab_run"))

    a = {key(s): s["values"] for s in ours}
    b = {key(s): s["values"] for s in theirs}
    problems = []
    if set(a) != set(b):
        problems.append(f"series differ: only perflab {sorted(set(a) - set(b))[:3]}, "
                        f"only Prometheus {sorted(set(b) - set(a))[:3]}")
    for k in set(a) & set(b):
        pa, pb = dict(a[k]), dict(b[k])
        if set(pa) != set(pb):
            problems.append(f"{k}: timestamps differ ({len(pa)} vs {len(pb)})")
            continue
        for t, va in pa.items():
            fa, fb = float(va), float(pb[t])
            if fa == fb or (math.isnan(fa) and math.isnan(fb)):
                continue
            if abs(fa - fb) > rel * max(abs(fa), abs(fb)):
                problems.append(f"{k} at {t}: perflab {va}, Prometheus {pb[t]}")
                break
    return problems
