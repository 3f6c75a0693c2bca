"""Static checks of the deployment files: the Dockerfile (and .dockerignore), the systemd unit and
the Grafana dashboard. No container engine, systemd or Grafana is needed: each file is parsed here
and held to what the gateway expects (a non-root image serving on 8080 with a /healthz health
check, a unit that runs `unigate serve` as its own user, a dashboard built only on metrics the
gateway exports). Each checker returns a list of problems; the tests run it on the real file, and
on broken copies of it, so that a check that could never fail is caught too.

DASHBOARD_METRICS (with METRIC_KINDS and METRIC_LABELS) is the contract between the dashboard and
GET /metrics: another test can compare it with what a running gateway exposes."""

from __future__ import annotations

import configparser
import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SYSTEMD_UNIT = ROOT / "deploy" / "systemd" / "unigate.service"
DASHBOARD = ROOT / "deploy" / "grafana" / "unigate-dashboard.json"

# name, kind, labels: the metrics the dashboard may use, as GET /metrics names them (a histogram by
# its family name; its series are name_bucket, name_sum and name_count).
_CATALOGUE: list[tuple[str, str, tuple[str, ...]]] = [
    ("unigate_requests_total", "counter", ("endpoint", "api", "surface", "provider", "status_class")),
    ("unigate_tokens_total", "counter", ("endpoint", "provider", "type")),
    ("unigate_request_duration_seconds", "histogram", ("endpoint", "api")),
    ("unigate_time_to_first_token_seconds", "histogram", ("endpoint", "api")),
    ("unigate_upstream_duration_seconds", "histogram", ("provider", "outcome")),
    ("unigate_gateway_overhead_seconds", "histogram", ("api",)),
    ("unigate_in_flight_requests", "gauge", ()),
    ("unigate_in_flight_streams", "gauge", ()),
    ("unigate_fallbacks_total", "counter", ("endpoint", "provider", "reason")),
    ("unigate_rate_limit_refusals_total", "counter", ("endpoint", "key", "principal", "measure")),
    ("unigate_destination_cooling_down", "gauge", ("provider", "model")),
    ("unigate_usage_queue_rows", "gauge", ()),
    ("unigate_usage_queue_oldest_seconds", "gauge", ()),
    ("unigate_usage_rows_dropped_total", "counter", ()),
    ("unigate_payload_queue_rows", "gauge", ()),
    ("unigate_upstream_connections", "gauge", ("state",)),
    ("unigate_workers", "gauge", ()),
]
DASHBOARD_METRICS: list[str] = [name for name, _, _ in _CATALOGUE]
METRIC_KINDS: dict[str, str] = {name: kind for name, kind, _ in _CATALOGUE}
METRIC_LABELS: dict[str, tuple[str, ...]] = {name: labels for name, _, labels in _CATALOGUE}
TARGET_LABELS = frozenset({"instance", "job"})  # added by Prometheus when it scrapes
DASHBOARD_ROWS = ["Traffic", "Latency", "Tokens", "Routing & limits", "Internals"]
GRID_COLUMNS = 24


# --------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, backslash continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    if pending:
        keyword, _, args = pending.strip().partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    """The instructions of each stage, from its FROM on (instructions before the first FROM, the
    global ARGs, are left out)."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions(text):
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, args))
    return stages


def _exec_form(args: str) -> list[str] | None:
    try:
        value = json.loads(args)
    except ValueError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def dockerfile_problems(text: str) -> list[str]:
    problems: list[str] = []
    stages = dockerfile_stages(text)
    if len(stages) < 2:
        return [f"expected a multi-stage build, found {len(stages)} stage(s)"]
    build, final = stages[0], stages[-1]
    bases = [args.split()[0] for _, args in (stage[0] for stage in stages)]
    global_args: dict[str, str] = {}  # the ARGs before the first FROM, which FROM lines may use
    for keyword, args in dockerfile_instructions(text):
        if keyword == "FROM":
            break
        if keyword == "ARG":
            name, _, default = args.partition("=")
            global_args[name] = default.strip("\"'")
    resolved = [re.sub(r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1), m.group(0)), b) for b in bases]
    for base in (resolved[0], resolved[-1]):
        if not base.startswith("python:3.11-slim"):
            problems.append(f"base image {base!r} is not python:3.11-slim")
    if resolved[0] != resolved[-1]:
        problems.append(f"the build and runtime stages have different bases: {resolved[0]} / {resolved[-1]}")

    def of(stage: list[tuple[str, str]], keyword: str) -> list[str]:
        return [args for k, args in stage if k == keyword]

    if not any("pip wheel" in run and "--no-deps" in run for run in of(build, "RUN")):
        problems.append("the build stage does not build the wheel with `pip wheel --no-deps`")
    runs = of(final, "RUN")
    if not any("pip install" in run for run in runs):
        problems.append("the final stage installs nothing with pip")
    for run in runs:
        if re.search(r"\[[^\]]*\bdev\b[^\]]*\]", run):
            problems.append(f"the final stage installs the dev extra: {run}")
        if "pip install" in run and "--no-cache-dir" not in run:
            problems.append(f"pip install without --no-cache-dir: {run}")
        if re.search(r"\b(gcc|g\+\+|build-essential|clang)\b", run):
            problems.append(f"the final stage installs a compiler: {run}")
    if not any(a.startswith("--from=") for a in of(final, "COPY")):
        problems.append("the final stage copies nothing from the build stage")
    env = " ".join(of(final, "ENV"))
    for var in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"):
        if not re.search(rf"\b{var}[= ]1\b", env):
            problems.append(f"{var}=1 is not set in the final stage")

    users = of(final, "USER")
    if not users:
        problems.append("the final stage has no USER: it would run as root")
    else:
        user, _, group = users[-1].partition(":")
        if user in ("", "root", "0") or group in ("root", "0"):
            problems.append(f"the final stage runs as {users[-1]!r}")
    if "8080" not in " ".join(of(final, "EXPOSE")).replace("/tcp", "").split():
        problems.append("the final stage does not EXPOSE 8080")
    checks = of(final, "HEALTHCHECK")
    if not checks or checks[-1].upper().startswith("NONE"):
        problems.append("the final stage has no HEALTHCHECK")
    elif "/healthz" not in checks[-1] or ":8080/" not in checks[-1]:
        problems.append(f"the HEALTHCHECK does not ask :8080/healthz: {checks[-1]}")
    elif "curl" in checks[-1] or "wget" in checks[-1]:
        problems.append("the HEALTHCHECK uses a tool slim images lack (curl/wget)")

    entrypoints = of(final, "ENTRYPOINT")
    entry = _exec_form(entrypoints[-1]) if entrypoints else None
    if not entry or Path(entry[0]).name != "unigate":
        problems.append(f"ENTRYPOINT is not [\"unigate\"]: {entrypoints[-1:] or 'none'}")
    cmds = of(final, "CMD")
    cmd = _exec_form(cmds[-1]) if cmds else None
    if not cmd or cmd[0] != "serve":
        problems.append(f"CMD does not run `serve` in exec form: {cmds[-1:] or 'none'}")
    else:
        options = dict(zip(cmd[1::2], cmd[2::2], strict=False))
        if options.get("--port") != "8080" or options.get("--host") != "0.0.0.0":
            problems.append(f"CMD does not serve on 0.0.0.0:8080: {cmd}")
        data_dir = options.get("--data-dir")
        if data_dir is None or not any(data_dir in v for v in of(final, "VOLUME")):
            problems.append(f"the --data-dir {data_dir!r} is not a VOLUME")
        config = options.get("--config")
        if config is None or not any(c.split()[-1] == config for c in of(final, "COPY")):
            problems.append(f"the --config {config!r} is not copied into the image")
    for label in ("org.opencontainers.image.title", "org.opencontainers.image.version",
                  "org.opencontainers.image.source", "org.opencontainers.image.licenses"):
        if label not in " ".join(of(final, "LABEL")):
            problems.append(f"no OCI label {label}")
    return problems


def _ignore_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex on slash-separated paths (Go's filepath.Match plus **)."""
    out, i = "", 0
    pattern = pattern.strip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i:]:
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1].replace("[!", "[^"), end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignore_excludes(text: str, path: str) -> bool:
    """Whether the context leaves `path` (or a folder above it) out; `!` patterns re-include."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        regex = _ignore_pattern(line[1:] if negate else line)
        if any(regex.match(c) for c in candidates):
            excluded = not negate
    return excluded


def dockerignore_problems(ignore: str, dockerfile: str) -> list[str]:
    problems = [f".dockerignore does not exclude {p}" for p in (".venv", ".git", ".unigate", "tests")
                if not dockerignore_excludes(ignore, p)]
    problems += [f".dockerignore does not exclude {p}" for p in ("src/unigate/__pycache__/x.pyc", "x.db")
                 if not dockerignore_excludes(ignore, p)]
    for stage in dockerfile_stages(dockerfile):
        for keyword, args in stage:
            if keyword != "COPY" or "--from=" in args:
                continue
            for source in [a for a in args.split() if not a.startswith("--")][:-1]:
                if dockerignore_excludes(ignore, source):
                    problems.append(f".dockerignore excludes {source}, which the Dockerfile copies")
    return problems


def test_dockerfile() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


def test_dockerignore() -> None:
    assert dockerignore_problems(DOCKERIGNORE.read_text(), DOCKERFILE.read_text()) == []


BROKEN_DOCKERFILES: dict[str, Callable[[str], str]] = {
    "user root": lambda t: re.sub(r"^USER .*$", "USER root", t, flags=re.M),
    "user 0": lambda t: re.sub(r"^USER .*$", "USER 0:0", t, flags=re.M),
    "no user": lambda t: re.sub(r"^USER .*$", "", t, flags=re.M),
    "dev extra": lambda t: re.sub(r"^(ENTRYPOINT )", r"RUN pip install --no-cache-dir '/tmp/x[dev]'\n\1", t,
                                  flags=re.M),
    "pip cache": lambda t: re.sub(r"^(ENTRYPOINT )", r"RUN pip install pyyaml\n\1", t, flags=re.M),
    "no healthcheck": lambda t: re.sub(r"^HEALTHCHECK .*?\n(?!\s)", "", t, flags=re.M | re.S),
    "healthcheck elsewhere": lambda t: t.replace("/healthz", "/metrics"),
    "exposes 80": lambda t: re.sub(r"^EXPOSE .*$", "EXPOSE 80", t, flags=re.M),
    "entrypoint python": lambda t: re.sub(r"^ENTRYPOINT .*$", 'ENTRYPOINT ["python"]', t, flags=re.M),
    "shell-form entrypoint": lambda t: re.sub(r"^ENTRYPOINT .*$", "ENTRYPOINT unigate", t, flags=re.M),
    "one stage": lambda t: t[t.rindex("\nFROM "):],
}


@pytest.mark.parametrize("name", list(BROKEN_DOCKERFILES))
def test_dockerfile_checks_catch(name: str) -> None:
    original = DOCKERFILE.read_text()
    broken = BROKEN_DOCKERFILES[name](original)
    assert broken != original, "the mutation no longer applies to the Dockerfile"
    assert dockerfile_problems(broken)


@pytest.mark.parametrize("pattern", [".venv", ".git"])
def test_dockerignore_checks_catch(pattern: str) -> None:
    original = DOCKERIGNORE.read_text()
    broken = "\n".join(line for line in original.splitlines() if line.strip().strip("/") != pattern)
    assert broken != original
    assert dockerignore_problems(broken, DOCKERFILE.read_text())
    # and one that would leave out what the image is built from
    assert dockerignore_problems(original + "\n*.md\n", DOCKERFILE.read_text())


def test_dockerignore_matching() -> None:
    ignore = ".venv\n**/__pycache__\n*.db\nbench/results\n!keep.db\n"
    assert dockerignore_excludes(ignore, ".venv/bin/python")
    assert dockerignore_excludes(ignore, "src/unigate/__pycache__/cli.pyc")
    assert dockerignore_excludes(ignore, "x.db") and not dockerignore_excludes(ignore, "keep.db")
    assert not dockerignore_excludes(ignore, "src/x.db")  # *.db: the context's top level only
    assert dockerignore_excludes(ignore, "bench/results/run/a.txt")
    assert not dockerignore_excludes(ignore, "bench/run.sh") and not dockerignore_excludes(ignore, "src")


# --------------------------------------------------------------------------- systemd


def parse_unit(text: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",),
                                     comment_prefixes=("#", ";"), empty_lines_in_values=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
    unit.read_string(text)
    return unit


def _seconds(value: str) -> float:
    total, found = 0.0, False
    for number, suffix in re.findall(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h)?", value):
        total += float(number) * {"ms": 0.001, "min": 60, "m": 60, "h": 3600}.get(suffix, 1)
        found = True
    if not found:
        raise ValueError(value)
    return total


def systemd_unit_problems(text: str) -> list[str]:
    try:
        unit = parse_unit(text)
    except configparser.Error as e:
        return [f"the unit does not parse: {e}"]
    problems = [f"no [{s}] section" for s in ("Unit", "Service", "Install") if not unit.has_section(s)]
    if problems:
        return problems
    service = unit["Service"]
    user = service.get("User", "").strip()
    if user in ("", "root", "0"):
        problems.append(f"User= is {user!r}: the gateway would run as root")
    if service.get("DynamicUser", "no").strip() not in ("no", "false", "0", "off"):
        problems.append("DynamicUser= is on (the unit expects its own unigate user)")
    restart = service.get("Restart", "").strip()
    if restart in ("", "no"):
        problems.append("no Restart=")
    exec_start = service.get("ExecStart", "").replace("\\\n", " ").replace("\n", " ")
    argv = shlex.split(exec_start.replace("\\", " ")) if exec_start else []
    if len(argv) < 2 or Path(argv[0].lstrip("-@:+!")).name != "unigate" or argv[1] != "serve":
        problems.append(f"ExecStart= does not run `unigate serve`: {exec_start!r}")
        return problems
    options = dict(zip(argv[2::2], argv[3::2], strict=False))
    if not Path(argv[0]).is_absolute():
        problems.append("ExecStart= needs an absolute path")
    grace = float(options.get("--grace", "30"))
    try:
        stop = _seconds(service.get("TimeoutStopSec", ""))
    except ValueError:
        problems.append("no TimeoutStopSec=")
    else:
        if stop < grace:
            problems.append(f"TimeoutStopSec= ({stop:g}s) is shorter than --grace ({grace:g}s)")
    data_dir = options.get("--data-dir", "")
    writable = service.get("ReadWritePaths", "").split() + [
        "/var/lib/" + d for d in service.get("StateDirectory", "").split()]
    if data_dir not in writable:
        problems.append(f"--data-dir {data_dir!r} is neither a StateDirectory= nor in ReadWritePaths=")
    for key, wanted in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                        ("PrivateTmp", "yes")):
        if service.get(key, "").strip() != wanted:
            problems.append(f"{key}={wanted} is not set")
    if service.get("AmbientCapabilities", None) not in ("", None):
        problems.append("AmbientCapabilities= grants capabilities")
    if not service.get("EnvironmentFile", "").strip():
        problems.append("no EnvironmentFile= for the provider keys")
    return problems


def test_systemd_unit() -> None:
    assert systemd_unit_problems(SYSTEMD_UNIT.read_text()) == []


BROKEN_UNITS: dict[str, Callable[[str], str]] = {
    "user root": lambda t: re.sub(r"^User=.*$", "User=root", t, flags=re.M),
    "no user": lambda t: re.sub(r"^User=.*$", "", t, flags=re.M),
    "no restart": lambda t: re.sub(r"^Restart=.*$", "", t, flags=re.M),
    "another command": lambda t: t.replace("unigate serve", "unigate usage"),
    "short stop timeout": lambda t: re.sub(r"^TimeoutStopSec=.*$", "TimeoutStopSec=10s", t, flags=re.M),
    "no sections": lambda t: t.replace("[Service]", ""),
}


@pytest.mark.parametrize("name", list(BROKEN_UNITS))
def test_systemd_checks_catch(name: str) -> None:
    original = SYSTEMD_UNIT.read_text()
    broken = BROKEN_UNITS[name](original)
    assert broken != original, "the mutation no longer applies to the unit"
    assert systemd_unit_problems(broken)


# --------------------------------------------------------------------------- Grafana

_METRIC = re.compile(r"\bunigate_[a-z0-9_]+")
_SELECTOR = re.compile(r"\b(unigate_[a-z0-9_]+)\s*\{([^}]*)\}")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_RATED = re.compile(r"\b(?:rate|irate|increase)\s*\(\s*(unigate_[a-z0-9_]+)")
_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def metric_family(series: str) -> str:
    """unigate_x_seconds_bucket -> unigate_x_seconds for a histogram's series; other names as they are."""
    for suffix in ("_bucket", "_sum", "_count"):
        base = series.removesuffix(suffix)
        if base != series and METRIC_KINDS.get(base) == "histogram":
            return base
    return series


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    out: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_expressions(dashboard: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(where, PromQL, legend format) of every panel target and every query variable."""
    out = [(f"panel {p.get('id')} {p.get('title')!r}", t["expr"], t.get("legendFormat", ""))
           for p in all_panels(dashboard) for t in p.get("targets", []) if "expr" in t]
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        if var.get("type") == "query":
            out.append((f"variable {var.get('name')}", query, ""))
    return out


def expression_problems(where: str, expr: str, legend: str) -> list[str]:
    problems: list[str] = []
    used = [m.group(0) for m in _METRIC.finditer(expr)]
    families = {metric_family(m) for m in used}
    for name in sorted(families - set(DASHBOARD_METRICS)):
        problems.append(f"{where}: {name} is not in DASHBOARD_METRICS")
    known = families & set(DASHBOARD_METRICS)
    allowed = set(TARGET_LABELS).union(*(METRIC_LABELS[f] for f in known))
    if any(m.endswith("_bucket") for m in used):
        allowed.add("le")
    for series, matchers in _SELECTOR.findall(expr):
        family = metric_family(series)
        if family in METRIC_LABELS:
            own = set(METRIC_LABELS[family]) | TARGET_LABELS | ({"le"} if series.endswith("_bucket") else set())
            for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers):
                if label not in own:
                    problems.append(f"{where}: {series} has no label {label!r}")
    grouped: set[str] = set()
    for labels in _GROUPING.findall(expr):
        for label in (x.strip() for x in labels.split(",") if x.strip()):
            grouped.add(label)
            if label not in allowed:
                problems.append(f"{where}: groups by {label!r}, a label none of {sorted(known)} has")
    if where.startswith("variable"):
        for series, label in re.findall(r"label_values\(\s*(unigate_\w+)[^,]*,\s*(\w+)\s*\)", expr):
            if label not in set(METRIC_LABELS.get(metric_family(series), ())) | TARGET_LABELS:
                problems.append(f"{where}: {series} has no label {label!r}")
    for series in _RATED.findall(expr):
        if not (METRIC_KINDS.get(series) == "counter" or series.endswith("_bucket")):
            problems.append(f"{where}: rate()/increase() over {series}, which is not a counter")
    if "histogram_quantile" in expr:
        if not any(m.endswith("_bucket") for m in used):
            problems.append(f"{where}: histogram_quantile without a _bucket series")
        if "le" not in grouped:
            problems.append(f"{where}: histogram_quantile whose sum does not keep le")
    for label in _LEGEND.findall(legend):
        if grouped and label not in grouped:
            problems.append(f"{where}: the legend names {label!r}, which the query aggregates away")
    return problems


def _overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
            and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


def dashboard_problems(text: str) -> list[str]:
    try:
        dashboard = json.loads(text)
    except ValueError as e:
        return [f"not valid JSON: {e}"]
    problems: list[str] = []
    if dashboard.get("schemaVersion") != 39:
        problems.append(f"schemaVersion is {dashboard.get('schemaVersion')!r}, not 39")
    inputs = {i.get("name"): i for i in dashboard.get("__inputs", [])}
    if inputs.get("DS_PROMETHEUS", {}).get("pluginId") != "prometheus":
        problems.append("no DS_PROMETHEUS datasource input in __inputs")
    panels = all_panels(dashboard)
    if not panels:
        return problems + ["no panels"]
    ids = [p.get("id") for p in panels]
    for dup in sorted({i for i in ids if ids.count(i) > 1}, key=str):
        problems.append(f"panel id {dup!r} is used more than once")
    if any(not isinstance(i, int) for i in ids):
        problems.append("a panel has no integer id")
    placed: list[tuple[str, dict[str, int]]] = []
    for p in panels:
        grid = p.get("gridPos")
        title = f"panel {p.get('id')} {p.get('title')!r}"
        if not isinstance(grid, dict) or not all(isinstance(grid.get(k), int) for k in "xywh"):
            problems.append(f"{title} has no gridPos")
            continue
        if grid["w"] <= 0 or grid["h"] <= 0 or grid["x"] < 0 or grid["y"] < 0 or grid["x"] + grid["w"] > GRID_COLUMNS:
            problems.append(f"{title} lies outside the {GRID_COLUMNS}-column grid: {grid}")
        for other, other_grid in placed:
            if _overlap(grid, other_grid):
                problems.append(f"{title} overlaps {other}")
        placed.append((title, grid))
        if p.get("type") != "row":
            sources = [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]
            if any(not isinstance(s, dict) or s.get("uid") != "${DS_PROMETHEUS}" for s in sources):
                problems.append(f"{title} does not use the ${{DS_PROMETHEUS}} datasource")
            if not p.get("targets"):
                problems.append(f"{title} has no query")
    rows = [p.get("title") for p in dashboard.get("panels", []) if p.get("type") == "row"]
    if rows != DASHBOARD_ROWS:
        problems.append(f"the rows are {rows}, not {DASHBOARD_ROWS}")
    if dashboard["panels"][0].get("type") != "row":
        problems.append("the first panel is not a row")
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    for name in ("endpoint", "instance"):
        if name not in variables:
            problems.append(f"no templating variable {name!r}")
    endpoint = variables.get("endpoint", {})
    if not (endpoint.get("multi") and endpoint.get("includeAll")):
        problems.append("the endpoint variable is not multi-value with All")
    expressions = dashboard_expressions(dashboard)
    for where, expr, legend in expressions:
        problems.extend(expression_problems(where, expr, legend))
    used = {metric_family(m) for _, expr, _ in expressions for m in _METRIC.findall(expr)}
    for name in DASHBOARD_METRICS:
        if name not in used:
            problems.append(f"no panel shows {name}")
    return problems


def test_dashboard() -> None:
    assert dashboard_problems(DASHBOARD.read_text()) == []


def test_dashboard_metrics_list() -> None:
    assert len(DASHBOARD_METRICS) == len(set(DASHBOARD_METRICS))
    assert all(re.fullmatch(r"unigate_[a-z0-9_]+", n) for n in DASHBOARD_METRICS)
    assert all(METRIC_KINDS[n] == "counter" for n in DASHBOARD_METRICS if n.endswith("_total"))
    assert metric_family("unigate_request_duration_seconds_bucket") == "unigate_request_duration_seconds"
    assert metric_family("unigate_requests_total") == "unigate_requests_total"


def _mutate_dashboard(change: Callable[[dict[str, Any]], None]) -> str:
    dashboard = json.loads(DASHBOARD.read_text())
    change(dashboard)
    return json.dumps(dashboard)


def _first_target(d: dict[str, Any]) -> dict[str, Any]:
    return next(t for p in d["panels"] for t in p.get("targets", []))


def _rated_gauge(d: dict[str, Any]) -> None:
    _first_target(d)["expr"] = 'sum(rate(unigate_workers{instance=~"$instance"}[5m]))'


BROKEN_DASHBOARDS: dict[str, Callable[[], str]] = {
    "not json": lambda: DASHBOARD.read_text()[:-3],
    "duplicate id": lambda: _mutate_dashboard(lambda d: d["panels"][2].update(id=d["panels"][1]["id"])),
    "overlap": lambda: _mutate_dashboard(lambda d: d["panels"][2].update(gridPos=dict(d["panels"][1]["gridPos"]))),
    "too wide": lambda: _mutate_dashboard(lambda d: d["panels"][1]["gridPos"].update(x=20, w=8)),
    "unknown metric": lambda: _mutate_dashboard(
        lambda d: _first_target(d).update(expr='sum(rate(unigate_request_total{instance=~"$instance"}[5m]))')),
    "unknown label": lambda: _mutate_dashboard(
        lambda d: _first_target(d).update(expr="sum by (model) (rate(unigate_requests_total[5m]))")),
    "rate of a gauge": lambda: _mutate_dashboard(_rated_gauge),
    "legend of a dropped label": lambda: _mutate_dashboard(
        lambda d: _first_target(d).update(expr="sum by (api) (rate(unigate_requests_total[5m]))",
                                          legendFormat="{{provider}}")),
    "no endpoint variable": lambda: _mutate_dashboard(
        lambda d: d["templating"].update(list=[v for v in d["templating"]["list"] if v["name"] != "endpoint"])),
    "no input": lambda: _mutate_dashboard(lambda d: d.update(__inputs=[])),
}


@pytest.mark.parametrize("name", list(BROKEN_DASHBOARDS))
def test_dashboard_checks_catch(name: str) -> None:
    assert dashboard_problems(BROKEN_DASHBOARDS[name]())
