"""The Dask cluster a distributed load test runs on: ``--cluster ADDRESS|local:N``.

``parse_cluster`` reads the option; ``connect`` reaches the scheduler within a bounded time
(exit 3 with a hint when it cannot) or starts a ``LocalCluster`` for ``local:N`` (stopped
with the ``Cluster``); ``check_placement`` refuses a loopback target when cluster members are
on other hosts (their 127.0.0.1 is another machine). Dask is imported here, and only here,
when a test asks for a cluster.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from perflab.errors import InvalidValue, ToolMissing, Unreachable

if TYPE_CHECKING:
    from types import TracebackType

    from distributed import Client, LocalCluster

    from perflab.load._config import Target

CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """``--cluster``: a scheduler's address, or ``local:N`` (a local cluster of N workers)."""

    address: str | None = None
    local_workers: int | None = None

    @property
    def label(self) -> str:
        return self.address if self.address is not None else f"local:{self.local_workers}"


def parse_cluster(text: str) -> ClusterSpec:
    """``tcp://host:8786``, ``host:8786`` (tcp) or ``local:N``; errors name the value."""
    value = text.strip()
    if value.startswith("local:"):
        n = value.removeprefix("local:")
        if not n.isdigit() or not 1 <= int(n) <= 64:  # a machine's workers
            raise InvalidValue(f"invalid --cluster {text!r}: N in local:N is 1 to 64",
                               hint="e.g. --cluster local:2 (a local Dask cluster of 2 workers)")
        return ClusterSpec(local_workers=int(n))
    if "://" not in value:
        value = "tcp://" + value
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None:
        raise InvalidValue(f"invalid --cluster {text!r}",
                           hint="give the Dask scheduler's address, e.g. tcp://10.0.0.5:8786, "
                                "or local:N for a local cluster")
    return ClusterSpec(address=value)


class Cluster:
    """A connected Dask client (and the local cluster it started, if any). Closed on exit."""

    def __init__(self, spec: ClusterSpec, client: Client, local: LocalCluster | None) -> None:
        self.spec, self.client, self.local = spec, client, local

    @property
    def scheduler_address(self) -> str:
        return str(self.client.scheduler_info()["address"])

    def workers(self) -> list[str]:
        """The addresses of the workers connected now (asks the scheduler)."""
        return sorted(self.client.ncores())

    def require_workers(self) -> list[str]:
        """The workers' addresses; exit 3 with a hint when there are none."""
        workers = self.workers()
        if not workers:
            raise Unreachable(f"the Dask cluster {self.spec.label} has no workers",
                              hint="start some: dask worker " + self.scheduler_address)
        return workers

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def connect(spec: ClusterSpec, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Cluster:
    """Reach the scheduler within ``timeout_s`` (exit 3 with a hint when it cannot be)."""
    try:
        from distributed import Client, LocalCluster  # noqa: PLC0415  # only with --cluster
    except ImportError:  # an optional dependency: perflab[cluster]
        raise ToolMissing("distributed", install="pip install 'perflab[cluster]'") from None

    if spec.local_workers is not None:
        local = LocalCluster(n_workers=spec.local_workers, threads_per_worker=1, processes=True,
                             host="127.0.0.1", dashboard_address=None,
                             scheduler_kwargs={"dashboard": False},
                             silence_logs=logging.CRITICAL)
        try:
            return Cluster(spec, Client(local, timeout=timeout_s), local)
        except BaseException:
            local.close()
            raise
    # distributed logs a lost connection at INFO with its traceback (a client stopped by Ctrl-C
    # closes its comm while a batch is in flight): perflab says what failed in its own words
    logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        client = Client(spec.address, timeout=timeout_s)
    except (OSError, TimeoutError) as exc:
        raise Unreachable(
            f"cannot reach the Dask scheduler at {spec.address} within {timeout_s:g}s",
            hint="start one (dask scheduler; dask worker ADDRESS), check the address and "
                 "port, or use --cluster local:N for a local cluster") from exc
    return Cluster(spec, client, None)


def _host(address: str) -> str:
    return urlsplit(address if "://" in address else "tcp://" + address).hostname or ""


def loopback(host: str) -> bool:
    """Whether an address (or ``localhost``) is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_placement(target: Target, scheduler: str, workers: list[str]) -> None:
    """A loopback target is this machine's: refused when the scheduler or a worker is
    elsewhere (its 127.0.0.1 would be another machine, which the test would load)."""
    if not loopback(target.addr):
        return
    remote = [a for a in [scheduler, *workers] if not loopback(_host(a))]
    if remote:
        raise InvalidValue(
            f"the target {target.url} is loopback, but the Dask cluster has members on other "
            f"hosts ({', '.join(remote[:3])}): there it would mean another machine",
            hint="give the target's address as the workers reach it (with --allow-remote), or "
                 "run the scheduler and workers on this machine's loopback")
