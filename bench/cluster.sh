#!/usr/bin/env bash
# One bench target made of several unigate instances, as a platform team would run them: a
# throwaway PostgreSQL (the shared store) and Redis (counters, health, change notices), N
# instances of W workers on ports after PORT, and nginx on PORT spreading connections over
# them. Run in the foreground by the harness, which measures the whole process tree (the
# databases and nginx included) and kills it at the end.
#   bench/cluster.sh PORT CONFIG [INSTANCES] [WORKERS]
set -euo pipefail
PORT="$1"; CONFIG="$2"; INSTANCES="${3:-3}"; WORKERS="${4:-1}"
HERE="$(cd "$(dirname "$0")" && pwd)"
UNIGATE="$HERE/../.venv/bin/unigate"
W="$(mktemp -d /tmp/unigate-cluster.XXXXXX)"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
[ "$(id -u)" = 0 ] && chown postgres "$W"
as_pg "$PGBIN/initdb" -D "$W/pg" -U unigate -A trust -E UTF8 --no-sync --no-instructions >/dev/null
PGPORT=$((PORT + 50)); RPORT=$((PORT + 51))
# durable settings: this measures what production pays for its writes
as_pg "$PGBIN/postgres" -D "$W/pg" -p "$PGPORT" -k "$W" -c listen_addresses=127.0.0.1 \
  -c max_connections=200 >"$W/pg.log" 2>&1 &
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$W" >"$W/redis.log" 2>&1 &
for _ in $(seq 100); do
  as_pg "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" && break; sleep 0.1
done
# CLUSTER_STORE=sqlite / CLUSTER_REDIS=off take one shared part away (to see what it costs)
[ "${CLUSTER_STORE:-}" = sqlite ] || export UNIGATE_STORE_URL="postgresql://unigate@127.0.0.1:$PGPORT/postgres"
[ "${CLUSTER_REDIS:-}" = off ] || export UNIGATE_REDIS_URL="redis://127.0.0.1:$RPORT/0"
UPSTREAMS=""
for i in $(seq "$INSTANCES"); do
  P=$((PORT + i))
  "$UNIGATE" serve --config "$CONFIG" --port "$P" --workers "$WORKERS" --data-dir "$W/data-$i" \
    >"$W/unigate-$i.log" 2>&1 &
  UPSTREAMS="$UPSTREAMS server 127.0.0.1:$P;"
done
mkdir -p "$W/nginx"
cat > "$W/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $W/nginx.pid;
error_log $W/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $W/nginx/body; proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fcgi; uwsgi_temp_path $W/nginx/uwsgi; scgi_temp_path $W/nginx/scgi;
  upstream unigate { $UPSTREAMS keepalive 256; }
  server {
    listen 127.0.0.1:$PORT;
    location / {
      proxy_pass http://unigate;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
trap 'kill 0; rm -rf "$W"' EXIT
nginx -c "$W/nginx.conf" &
wait
