#!/usr/bin/env bash
# What the built-in guardrails cost on the request path, with the shared load harness
# (../shared/bench): one worker each, the same endpoint without guardrails, with input guardrails
# (pii that sanitizes + 50 keywords; nothing found, so the body still takes the fast path), and
# with an output pii guardrail (the answer is decoded, checked and encoded again; streams go
# through the held-back window). The summary gives each target's CPU per request.
#   bash bench/run-guardrails.sh --pin off --conc 16 --stream-conc 16 --reps 3
# Other arguments go to the harness (see ../shared/bench/README.md). Results: bench/results/.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
HARNESS="${UNIGATE_BENCH_HARNESS:-$REPO/../shared/bench}"
[ -f "$HARNESS/run.sh" ] || { echo "load harness not found at $HARNESS" >&2; exit 1; }
UNIGATE="$REPO/.venv/bin/unigate"
[ -x "$UNIGATE" ] || (cd "$REPO" && ./dev true >/dev/null 2>&1 || true)
WORK="$(mktemp -d /tmp/unigate-bench.XXXXXX)"
KEYWORDS="$(python3 -c 'print(", ".join(f"codename{i}" for i in range(50)))')"
cat > "$WORK/unigate.yaml" <<YAML
providers:
  - {name: mock, type: openai, base_url: "\${MOCK_API_BASE}", api_key: sk-mock-upstream}
endpoints:
  - name: plain
    destinations: [{provider: mock, model: gpt-4o-mini}]
  - name: input-guarded
    destinations: [{provider: mock, model: gpt-4o-mini}]
    guardrails:
      - {name: pii, type: pii, phase: input, action: sanitize, restore: true}
      - {name: words, type: keywords, phase: input, words: [$KEYWORDS]}
  - name: output-guarded
    destinations: [{provider: mock, model: gpt-4o-mini}]
    guardrails: [{name: pii-out, type: pii, phase: output, action: sanitize}]
YAML
target() {  # name, endpoint, port
  printf '{"name": "%s", "port": %s, "path": "/ai-gateway/mlflow/v1/chat/completions", "model": "%s",
  "cmd": "exec %s serve --config %s/unigate.yaml --port {port} --workers 1 --data-dir %s/data-%s",
  "headers": ["Authorization: Bearer ug-bench"], "env": {"UNIGATE_ADMIN_TOKEN": "ug-bench"}}' \
    "$1" "$3" "$2" "$UNIGATE" "$WORK" "$WORK" "$1"
}
echo "[$(target no-guardrails plain 19110), $(target input-guardrails input-guarded 19111),
  $(target output-guardrails output-guarded 19112)]" > "$WORK/targets.json"
OUT="$HERE/results/guardrails-$(date -u +%Y%m%d-%H%M)"
mkdir -p "$OUT"
bash "$HARNESS/run.sh" --targets direct --targets-file "$WORK/targets.json" --out "$OUT" "$@"
echo "results: $OUT/summary.md"
