#!/usr/bin/env bash
# Measures unigate with the shared load harness (../shared/bench), in one run beside the bare
# Python relay (the floor cost of any Python in the middle) and, unless --no-baselines is
# given first, LiteLLM and Portkey. Two unigate targets: the same-dialect fast path (OpenAI
# client → OpenAI upstream) and the translated path (OpenAI client → Anthropic upstream),
# plus the fast path on one worker (like for like with the one-process relay). The summary
# ends with each target's CPU per request relative to the relay (bench/relative.py).
#   bash bench/run-unigate.sh                      # full run (~30 min with baselines)
#   bash bench/run-unigate.sh --no-baselines --quick
# Other arguments go to the harness (see ../shared/bench/README.md). Results: bench/results/.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
HARNESS="${UNIGATE_BENCH_HARNESS:-$REPO/../shared/bench}"
[ -f "$HARNESS/run.sh" ] || { echo "load harness not found at $HARNESS" >&2; exit 1; }
TARGETS="direct,litellm,portkey"
if [ "${1:-}" = "--no-baselines" ]; then TARGETS="direct"; shift; fi
UNIGATE="$REPO/.venv/bin/unigate"
[ -x "$UNIGATE" ] || (cd "$REPO" && ./dev true >/dev/null 2>&1 || true)
WORK="$(mktemp -d /tmp/unigate-bench.XXXXXX)"
cat > "$WORK/unigate.yaml" <<'YAML'
providers:
  - {name: mock, type: openai, base_url: "${MOCK_API_BASE}", api_key: sk-mock-upstream}
  - {name: mock-anthropic, type: anthropic, base_url: "${MOCK_URL}", api_key: sk-mock-upstream}
endpoints:
  - name: gpt-4o-mini
    destinations: [{provider: mock, model: gpt-4o-mini, traffic_percentage: 100}]
  - name: claude-via-translation
    destinations: [{provider: mock-anthropic, model: claude-haiku-4-5, traffic_percentage: 100}]
YAML
cat > "$WORK/targets.json" <<JSON
[{"name": "unigate", "port": 19100, "path": "/ai-gateway/mlflow/v1/chat/completions",
  "cmd": "exec $UNIGATE serve --config $WORK/unigate.yaml --port {port} --data-dir $WORK/data-same",
  "headers": ["Authorization: Bearer ug-bench"], "env": {"UNIGATE_ADMIN_TOKEN": "ug-bench"}},
 {"name": "unigate-translate", "port": 19102, "path": "/ai-gateway/mlflow/v1/chat/completions",
  "model": "claude-via-translation",
  "cmd": "exec $UNIGATE serve --config $WORK/unigate.yaml --port {port} --data-dir $WORK/data-tr",
  "headers": ["Authorization: Bearer ug-bench"], "env": {"UNIGATE_ADMIN_TOKEN": "ug-bench"}},
 {"name": "unigate-1w", "port": 19103, "path": "/ai-gateway/mlflow/v1/chat/completions",
  "cmd": "exec $UNIGATE serve --config $WORK/unigate.yaml --port {port} --workers 1 --data-dir $WORK/data-1w",
  "headers": ["Authorization: Bearer ug-bench"], "env": {"UNIGATE_ADMIN_TOKEN": "ug-bench"}},
 {"name": "relay", "port": 19101, "path": "/v1/chat/completions",
  "cmd": "exec /tmp/venvs/bench/bin/python {bench_dir}/examples/aiohttp_passthrough.py --port {port}",
  "headers": ["Authorization: Bearer sk-test"]}]
JSON
OUT="$HERE/results/$(date -u +%Y%m%d-%H%M)"
mkdir -p "$OUT"
bash "$HARNESS/run.sh" --targets "$TARGETS" --targets-file "$WORK/targets.json" --out "$OUT" "$@"
python3 "$HERE/relative.py" "$OUT"  # CPU per request relative to the relay, appended to summary.md
echo "results: $OUT/summary.md"
