"""A Prometheus configuration file, the parts perflab acts on.

``perflab serve --scrape prometheus.yml`` and ``perflab scrape -c prometheus.yml`` read the
file Prometheus reads: ``global`` (intervals, external labels), ``scrape_configs``,
``rule_files``, ``alerting.alertmanagers`` and ``remote_write``. Fields perflab does not act on
(service discovery other than static and file, TLS details) are refused by name rather than
silently ignored, so a config never means less than it says.

perflab's defaults are its own, chosen to alert in seconds: a 5 s scrape and evaluation
interval (Prometheus: 1 m), a scrape timeout of 5 s at most.
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from perflab.errors import InvalidFile, InvalidValue
from perflab.metrics._duration import parse_duration_ms
from perflab.metrics._labels import LABEL_NAME
from perflab.metrics._relabel import RelabelConfig

DEFAULT_SCRAPE_INTERVAL_MS = 5_000
DEFAULT_EVAL_INTERVAL_MS = 5_000
DEFAULT_SCRAPE_TIMEOUT_MS = 5_000
DEFAULT_BODY_LIMIT = 64 * 1024 * 1024   # bytes of a scrape answer
MAX_CONFIG_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Auth:
    username: str | None = None
    password: str | None = None
    bearer: str | None = None

    def header(self) -> str | None:
        if self.bearer is not None:
            return f"Bearer {self.bearer}"
        if self.username is not None:
            import base64  # noqa: PLC0415

            token = base64.b64encode(f"{self.username}:{self.password or ''}".encode())
            return f"Basic {token.decode()}"
        return None


@dataclass(frozen=True, slots=True)
class TargetGroup:
    targets: tuple[str, ...]
    labels: dict[str, str]
    source: str = ""


@dataclass(frozen=True, slots=True)
class FileSD:
    files: tuple[str, ...]
    refresh_ms: int = 300_000


@dataclass(frozen=True, slots=True)
class ScrapeConfig:
    job_name: str
    interval_ms: int
    timeout_ms: int
    metrics_path: str = "/metrics"
    scheme: str = "http"
    params: dict[str, list[str]] = field(default_factory=dict)
    honor_labels: bool = False
    honor_timestamps: bool = True
    auth: Auth = Auth()
    static: tuple[TargetGroup, ...] = ()
    file_sd: tuple[FileSD, ...] = ()
    relabel: tuple[RelabelConfig, ...] = ()
    metric_relabel: tuple[RelabelConfig, ...] = ()
    sample_limit: int = 0
    body_size_limit: int = DEFAULT_BODY_LIMIT
    base_dir: str = "."


@dataclass(frozen=True, slots=True)
class AlertmanagerConfig:
    urls: tuple[str, ...]   # base URLs: scheme://host:port/path_prefix
    timeout_ms: int = 10_000
    api_version: str = "v2"


@dataclass(frozen=True, slots=True)
class PromConfig:
    scrape_interval_ms: int = DEFAULT_SCRAPE_INTERVAL_MS
    scrape_timeout_ms: int = DEFAULT_SCRAPE_TIMEOUT_MS
    evaluation_interval_ms: int = DEFAULT_EVAL_INTERVAL_MS
    external_labels: dict[str, str] = field(default_factory=dict)
    scrape_configs: tuple[ScrapeConfig, ...] = ()
    rule_files: tuple[str, ...] = ()
    alertmanagers: tuple[AlertmanagerConfig, ...] = ()
    remote_write: tuple[str, ...] = ()
    path: str = ""


def load_yaml(path: str | Path) -> Any:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise InvalidFile(f"the file is {size:,} bytes; at most {MAX_CONFIG_BYTES:,}",
                              path=str(p))
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InvalidFile("no such file", path=str(p)) from None
    except IsADirectoryError:
        raise InvalidFile("is a directory, not a file", path=str(p)) from None
    except PermissionError:
        raise InvalidFile("not allowed to read it", path=str(p)) from None
    except UnicodeDecodeError:
        raise InvalidFile("is not UTF-8 text", path=str(p)) from None
    return parse_yaml(text, str(p))


def parse_yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise InvalidFile(f"invalid YAML: {exc.problem or exc}", path=where, line=line) from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise InvalidFile(f"invalid YAML: {exc}", path=where) from None


def load_config(path: str | Path) -> PromConfig:
    doc = load_yaml(path)
    try:
        return config_from_doc(doc, str(path))
    except InvalidValue as exc:
        if isinstance(exc, InvalidFile):
            raise
        raise InvalidFile(exc.message, path=str(path), hint=exc.hint) from None


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue(f"{where} must be a mapping")
    return value


def _duration(value: Any, where: str) -> int:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidValue(f"{where}: expected a duration like 15s")
    ms = parse_duration_ms(str(value), what=where)
    if ms <= 0:
        raise InvalidValue(f"{where} must be above zero")
    return ms


def _labels(value: Any, where: str) -> dict[str, str]:
    labels = _mapping(value, where)
    out = {}
    for k, v in labels.items():
        if not isinstance(k, str) or not LABEL_NAME.match(k):
            raise InvalidValue(f"{where}: {k!r} is not a valid label name")
        out[k] = "" if v is None else str(v)
    return out


_GLOBAL_KEYS = {"scrape_interval", "scrape_timeout", "evaluation_interval", "external_labels",
                "query_log_file", "body_size_limit", "sample_limit"}
_TOP_KEYS = {"global", "scrape_configs", "rule_files", "alerting", "remote_write",
             "remote_read", "storage", "tracing"}
_UNSUPPORTED_SD = ("consul_sd_configs", "dns_sd_configs", "ec2_sd_configs", "kubernetes_sd_configs",
                   "http_sd_configs", "docker_sd_configs", "gce_sd_configs", "azure_sd_configs",
                   "openstack_sd_configs", "marathon_sd_configs", "nerve_sd_configs",
                   "serverset_sd_configs", "triton_sd_configs", "eureka_sd_configs",
                   "scaleway_sd_configs", "linode_sd_configs", "digitalocean_sd_configs",
                   "hetzner_sd_configs", "dockerswarm_sd_configs", "nomad_sd_configs",
                   "uyuni_sd_configs", "puppetdb_sd_configs", "ionos_sd_configs",
                   "vultr_sd_configs", "kuma_sd_configs", "lightsail_sd_configs")


def config_from_doc(doc: Any, path: str) -> PromConfig:
    top = _mapping(doc, "the configuration")
    unknown = set(top) - _TOP_KEYS
    if unknown:
        raise InvalidValue(f"unknown top-level field(s): {', '.join(sorted(map(str, unknown)))}")
    glob_doc = _mapping(top.get("global"), "global")
    unknown = set(glob_doc) - _GLOBAL_KEYS
    if unknown:
        raise InvalidValue(f"global: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    interval = (_duration(glob_doc["scrape_interval"], "global.scrape_interval")
                if "scrape_interval" in glob_doc else DEFAULT_SCRAPE_INTERVAL_MS)
    timeout = (_duration(glob_doc["scrape_timeout"], "global.scrape_timeout")
               if "scrape_timeout" in glob_doc else min(DEFAULT_SCRAPE_TIMEOUT_MS, interval))
    if timeout > interval:
        raise InvalidValue("global.scrape_timeout is longer than global.scrape_interval")
    evaluation = (_duration(glob_doc["evaluation_interval"], "global.evaluation_interval")
                  if "evaluation_interval" in glob_doc else DEFAULT_EVAL_INTERVAL_MS)
    base = str(Path(path).parent) if path else "."
    jobs: list[ScrapeConfig] = []
    names: set[str] = set()
    raw_jobs = top.get("scrape_configs") or []
    if not isinstance(raw_jobs, list):
        raise InvalidValue("scrape_configs must be a list")
    for i, job in enumerate(raw_jobs):
        cfg = _scrape_config(job, f"scrape_configs[{i}]", interval, timeout, base)
        if cfg.job_name in names:
            raise InvalidValue(f"found multiple scrape configs with job name {cfg.job_name!r}")
        names.add(cfg.job_name)
        jobs.append(cfg)
    rule_files = top.get("rule_files") or []
    if not isinstance(rule_files, list) or not all(isinstance(r, str) for r in rule_files):
        raise InvalidValue("rule_files must be a list of file names or globs")
    return PromConfig(interval, timeout, evaluation,
                      _labels(glob_doc.get("external_labels"), "global.external_labels"),
                      tuple(jobs), tuple(str(Path(base) / r) for r in rule_files),
                      _alertmanagers(top.get("alerting")), _remote_write(top.get("remote_write")),
                      path)


def _scrape_config(doc: Any, where: str, interval: int, timeout: int,
                   base: str) -> ScrapeConfig:
    job = _mapping(doc, where)
    name = job.get("job_name")
    if not isinstance(name, str) or not name:
        raise InvalidValue(f"{where}: job_name is required")
    where = f"scrape config {name!r}"
    for sd in _UNSUPPORTED_SD:
        if sd in job:
            raise InvalidValue(f"{where}: {sd} is not supported by perflab",
                               hint="use static_configs or file_sd_configs")
    known = {"job_name", "scrape_interval", "scrape_timeout", "metrics_path", "scheme",
             "params", "honor_labels", "honor_timestamps", "basic_auth", "authorization",
             "bearer_token", "bearer_token_file", "static_configs", "file_sd_configs",
             "relabel_configs", "metric_relabel_configs", "sample_limit", "body_size_limit",
             "tls_config", "follow_redirects", "enable_http2", "label_limit"}
    unknown = set(job) - known
    if unknown:
        raise InvalidValue(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    tls = _mapping(job.get("tls_config"), f"{where}: tls_config")
    if set(tls) - {"insecure_skip_verify"}:
        raise InvalidValue(f"{where}: tls_config supports only insecure_skip_verify")
    job_interval = (_duration(job["scrape_interval"], f"{where}: scrape_interval")
                    if "scrape_interval" in job else interval)
    job_timeout = (_duration(job["scrape_timeout"], f"{where}: scrape_timeout")
                   if "scrape_timeout" in job else min(timeout, job_interval))
    if job_timeout > job_interval:
        raise InvalidValue(f"{where}: scrape_timeout is longer than scrape_interval")
    scheme = str(job.get("scheme", "http"))
    if scheme not in ("http", "https"):
        raise InvalidValue(f"{where}: scheme must be http or https")
    path = str(job.get("metrics_path", "/metrics"))
    if not path.startswith("/"):
        raise InvalidValue(f"{where}: metrics_path must start with /")
    params_doc = _mapping(job.get("params"), f"{where}: params")
    params = {str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
              for k, v in params_doc.items()}
    static = []
    for i, group in enumerate(job.get("static_configs") or []):
        g = _mapping(group, f"{where}: static_configs[{i}]")
        targets = g.get("targets") or []
        if not isinstance(targets, list):
            raise InvalidValue(f"{where}: static_configs[{i}].targets must be a list")
        static.append(TargetGroup(tuple(_address(t, where) for t in targets),
                                  _labels(g.get("labels"), f"{where}: labels"),
                                  f"{i}"))
    file_sd = []
    for i, sd in enumerate(job.get("file_sd_configs") or []):
        s = _mapping(sd, f"{where}: file_sd_configs[{i}]")
        files = s.get("files") or []
        if not isinstance(files, list) or not files:
            raise InvalidValue(f"{where}: file_sd_configs[{i}].files must be a non-empty list")
        refresh = (_duration(s["refresh_interval"], f"{where}: refresh_interval")
                   if "refresh_interval" in s else 300_000)
        file_sd.append(FileSD(tuple(str(Path(base) / str(f)) for f in files), refresh))
    return ScrapeConfig(
        job_name=name, interval_ms=job_interval, timeout_ms=job_timeout, metrics_path=path,
        scheme=scheme, params=params, honor_labels=bool(job.get("honor_labels", False)),
        honor_timestamps=bool(job.get("honor_timestamps", True)), auth=_auth(job, where, base),
        static=tuple(static), file_sd=tuple(file_sd),
        relabel=_relabels(job.get("relabel_configs"), f"{where}: relabel_configs"),
        metric_relabel=_relabels(job.get("metric_relabel_configs"),
                                 f"{where}: metric_relabel_configs"),
        sample_limit=int(job.get("sample_limit", 0) or 0),
        body_size_limit=_size(job.get("body_size_limit"), where),
        base_dir=base)


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or "/" in value or " " in value:
        raise InvalidValue(f"{where}: {value!r} is not a host:port target",
                           hint="targets are host:port, like 127.0.0.1:9100")
    return value


_SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "kib": 1024, "mb": 1024**2, "mib": 1024**2,
               "gb": 1024**3, "gib": 1024**3}


def _size(value: Any, where: str) -> int:
    """``body_size_limit`` as Prometheus reads it (KB, MB, GB are powers of 1024); 0 or
    absent: perflab's limit."""
    if value in (None, 0, "0"):
        return DEFAULT_BODY_LIMIT
    import re  # noqa: PLC0415

    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(value))
    if m is None or m.group(2).lower() not in _SIZE_UNITS:
        raise InvalidValue(f"{where}: invalid body_size_limit {value!r}",
                           hint="like 10MB or 1GB")
    return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


def _read_secret(path: str, base: str, where: str) -> str:
    p = Path(base) / path
    try:
        return p.read_text().strip()
    except OSError as exc:
        raise InvalidValue(f"{where}: cannot read {p}: {exc.strerror}") from None


def _auth(job: dict[str, Any], where: str, base: str) -> Auth:
    if "basic_auth" in job:
        ba = _mapping(job["basic_auth"], f"{where}: basic_auth")
        password = ba.get("password")
        if "password_file" in ba:
            password = _read_secret(str(ba["password_file"]), base, where)
        return Auth(username=str(ba.get("username", "")),
                    password=None if password is None else str(password))
    if "authorization" in job:
        au = _mapping(job["authorization"], f"{where}: authorization")
        if str(au.get("type", "Bearer")) != "Bearer":
            raise InvalidValue(f"{where}: only the Bearer authorization type is supported")
        cred = au.get("credentials")
        if "credentials_file" in au:
            cred = _read_secret(str(au["credentials_file"]), base, where)
        return Auth(bearer=str(cred or ""))
    if "bearer_token" in job:
        return Auth(bearer=str(job["bearer_token"]))
    if "bearer_token_file" in job:
        return Auth(bearer=_read_secret(str(job["bearer_token_file"]), base, where))
    return Auth()


def _relabels(value: Any, where: str) -> tuple[RelabelConfig, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidValue(f"{where} must be a list")
    return tuple(RelabelConfig.from_yaml(v, f"{where}[{i}]") for i, v in enumerate(value))


def _alertmanagers(doc: Any) -> tuple[AlertmanagerConfig, ...]:
    alerting = _mapping(doc, "alerting")
    out = []
    for i, am in enumerate(alerting.get("alertmanagers") or []):
        a = _mapping(am, f"alerting.alertmanagers[{i}]")
        scheme = str(a.get("scheme", "http"))
        prefix = str(a.get("path_prefix", "")).rstrip("/")
        timeout = (_duration(a["timeout"], "alertmanager timeout") if "timeout" in a
                   else 10_000)
        version = str(a.get("api_version", "v2"))
        if version != "v2":
            raise InvalidValue("only the Alertmanager API v2 is supported (api_version: v2)")
        urls: list[str] = []
        for group in a.get("static_configs") or []:
            g = _mapping(group, "alertmanager static_configs")
            urls.extend(f"{scheme}://{_address(target, 'alertmanager')}{prefix}"
                        for target in g.get("targets") or [])
        out.append(AlertmanagerConfig(tuple(urls), timeout, version))
    return tuple(out)


def _remote_write(doc: Any) -> tuple[str, ...]:
    if doc is None:
        return ()
    if not isinstance(doc, list):
        raise InvalidValue("remote_write must be a list")
    urls = []
    for i, rw in enumerate(doc):
        r = _mapping(rw, f"remote_write[{i}]")
        url = r.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidValue(f"remote_write[{i}].url must be an http(s) URL")
        urls.append(url)
    return tuple(urls)


def read_file_sd(path: str) -> list[TargetGroup]:
    """Target groups of one file_sd file (YAML or JSON); InvalidValue when malformed."""
    p = Path(path)
    text = p.read_text()
    doc = json.loads(text) if p.suffix == ".json" else parse_yaml(text, str(p))
    if doc is None:
        return []
    if not isinstance(doc, list):
        raise InvalidValue(f"{p}: expected a list of target groups")
    out = []
    for i, g in enumerate(doc):
        group = _mapping(g, f"{p}[{i}]")
        targets = group.get("targets") or []
        if not isinstance(targets, list):
            raise InvalidValue(f"{p}[{i}]: targets must be a list")
        out.append(TargetGroup(tuple(_address(t, str(p)) for t in targets),
                               _labels(group.get("labels"), f"{p}[{i}].labels"),
                               f"{p}:{i}"))
    return out


def expand_globs(patterns: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern))  # noqa: PTH207  # patterns may be absolute
        out.extend(matches if matches or glob.has_magic(pattern) else [pattern])
    return out
