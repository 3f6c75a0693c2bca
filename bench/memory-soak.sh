#!/usr/bin/env bash
# Worker memory under sustained load: serves the bench mock through unigate (same-dialect path,
# auth and usage accounting on) and samples each worker's RSS after warm-up and then every
# 25,000 requests, up to REQUESTS (default 100,000). Needs ../shared/bench set up (wrk + venv).
#   bash bench/memory-soak.sh [REQUESTS]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(dirname "$HERE")"
HARNESS="${UNIGATE_BENCH_HARNESS:-$REPO/../shared/bench}"
TOTAL="${1:-100000}"; STEP=25000
WORK="$(mktemp -d /tmp/unigate-soak.XXXXXX)"
cat > "$WORK/unigate.yaml" <<'YAML'
providers: [{name: mock, type: openai, base_url: "http://127.0.0.1:18100/v1", api_key: sk-mock}]
endpoints: [{name: gpt-4o-mini, destinations: [{provider: mock, model: gpt-4o-mini}]}]
YAML
cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}],"max_tokens":64}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ug-soak"
local n = 0
request = function() n = n + 1; return wrk.format() end
LUA
/tmp/venvs/bench/bin/python "$HARNESS/mock_upstream.py" --port 18100 > "$WORK/mock.log" 2>&1 & MOCK=$!
UNIGATE_ADMIN_TOKEN=ug-soak "$REPO/.venv/bin/unigate" serve --config "$WORK/unigate.yaml" --port 19150 \
  --workers 2 --data-dir "$WORK/data" > "$WORK/gw.log" 2>&1 & GW=$!
trap 'kill $GW $MOCK 2>/dev/null; wait 2>/dev/null' EXIT
sleep 3
rss() { for p in $(pgrep -P $GW); do awk '/VmRSS/ {printf "%d ", $2/1024}' /proc/$p/status; done; }
URL=http://127.0.0.1:19150/ai-gateway/mlflow/v1/chat/completions
wrk -t1 -c32 -d3s -s "$WORK/post.lua" "$URL" > /dev/null      # warm-up
echo "requests  worker RSS (MB)"
echo "warm-up   $(rss)"
done_reqs=0
while [ "$done_reqs" -lt "$TOTAL" ]; do
  # wrk runs for a time, not a count: run slices and count what they completed.
  out=$(wrk -t1 -c32 -d6s -s "$WORK/post.lua" "$URL")
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  bad=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  done_reqs=$((done_reqs + n))
  if [ $((done_reqs / STEP)) -gt $(((done_reqs - n) / STEP)) ] || [ "$done_reqs" -ge "$TOTAL" ]; then
    echo "$done_reqs    $(rss) ${bad:+(non-2xx: $bad)}"
  fi
done
