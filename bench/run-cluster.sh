#!/usr/bin/env bash
# Several instances against one: the shared bench (../shared/bench) measures, in one run,
#   unigate-1x3   one instance, 3 workers, SQLite store, shared-memory counters
#   unigate-3x1   3 instances of 1 worker behind nginx, PostgreSQL store, Redis counters and
#                 change notices (bench/cluster.sh), the databases' and nginx's CPU included
#   relay         the bare Python relay, for scale
# Both unigate targets serve an endpoint with a per-user request limit and an endpoint-wide
# token limit (high enough never to refuse), so every request runs the limiter and writes a
# usage row. Installs nginx, PostgreSQL and Redis (Debian) when missing.
#   bash bench/run-cluster.sh --quick        # or any harness arguments (../shared/bench/README.md)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
HARNESS="${UNIGATE_BENCH_HARNESS:-$REPO/../shared/bench}"
[ -f "$HARNESS/run.sh" ] || { echo "load harness not found at $HARNESS" >&2; exit 1; }
missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v redis-server >/dev/null || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
UNIGATE="$REPO/.venv/bin/unigate"
[ -x "$UNIGATE" ] || (cd "$REPO" && ./dev true >/dev/null 2>&1 || true)
WORK="$(mktemp -d /tmp/unigate-bench.XXXXXX)"
cat > "$WORK/unigate.yaml" <<'YAML'
providers:
  - {name: mock, type: openai, base_url: "${MOCK_API_BASE}", api_key: sk-mock-upstream}
endpoints:
  - name: gpt-4o-mini
    destinations: [{provider: mock, model: gpt-4o-mini}]
    rate_limits:
      - {key: user_default, requests: 100000000, renewal_period: minute}
      - {key: endpoint, tokens: 100000000000, renewal_period: minute}
YAML
cat > "$WORK/targets.json" <<JSON
[{"name": "unigate-1x3", "port": 19110, "path": "/ai-gateway/mlflow/v1/chat/completions",
  "cmd": "exec $UNIGATE serve --config $WORK/unigate.yaml --port {port} --workers 3 --data-dir $WORK/data-one",
  "headers": ["Authorization: Bearer ug-bench"], "env": {"UNIGATE_ADMIN_TOKEN": "ug-bench"}},
 {"name": "unigate-3x1", "port": 19120, "path": "/ai-gateway/mlflow/v1/chat/completions",
  "cmd": "exec bash $HERE/cluster.sh {port} $WORK/unigate.yaml 3 1",
  "headers": ["Authorization: Bearer ug-bench"], "env": {"UNIGATE_ADMIN_TOKEN": "ug-bench"}},
 {"name": "relay", "port": 19101, "path": "/v1/chat/completions",
  "cmd": "exec /tmp/venvs/bench/bin/python {bench_dir}/examples/aiohttp_passthrough.py --port {port}",
  "headers": ["Authorization: Bearer sk-test"]}]
JSON
OUT="$HERE/results/cluster-$(date -u +%Y%m%d-%H%M)"
mkdir -p "$OUT"
bash "$HARNESS/run.sh" --targets direct --targets-file "$WORK/targets.json" --out "$OUT" "$@"
python3 "$HERE/relative.py" "$OUT"
echo "results: $OUT/summary.md"
