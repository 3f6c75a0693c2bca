# unigate container image.
#
#   docker build -t unigate:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#       --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" --build-arg SOURCE=<repository URL> .
#   docker run -p 8080:8080 -v unigate-data:/var/lib/unigate -e OPENAI_API_KEY=... \
#       -e UNIGATE_ADMIN_TOKEN=... --stop-timeout 35 unigate:0.1.0
#
# The default command serves /etc/unigate/unigate.yaml (the repository's example: mount your own
# over /etc/unigate) on port 8080 with JSON logs; the SQLite store and the usage spool live in the
# volume /var/lib/unigate (or set UNIGATE_STORE_URL / UNIGATE_REDIS_URL for PostgreSQL and Redis).
# In-flight streams get --grace (30 s by default) on SIGTERM: give the container a stop timeout
# above it (docker: --stop-timeout 35; Kubernetes: terminationGracePeriodSeconds, see deploy/kubernetes).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a wheel of this project only (its dependencies come as published wheels below) ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# pyproject.toml names README.md as the long description: the build needs both.
COPY pyproject.toml README.md ./
COPY src/ ./src/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# ---- runtime: the wheel and its runtime dependencies (not the dev extra), no compilers ----
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=
ARG PYTHON_IMAGE
LABEL org.opencontainers.image.title="unigate" \
      org.opencontainers.image.description="A self-hosted AI gateway: one HTTP service in front of every LLM provider." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# A fixed uid/gid, so volumes, fsGroup and runAsUser (deploy/kubernetes) agree with the image.
RUN groupadd --gid 10001 unigate \
 && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home --home-dir /var/lib/unigate \
        --shell /usr/sbin/nologin unigate \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/unigate \
 && install -d -o root -g root -m 0755 /etc/unigate

# pip compiles the modules at install time (PYTHONDONTWRITEBYTECODE only stops writes at run
# time); `unigate --version` checks that the installed command starts.
COPY --from=build /wheels/ /tmp/wheels/
RUN pip install --no-cache-dir /tmp/wheels/unigate-*.whl \
 && rm -rf /tmp/wheels \
 && unigate --version

COPY unigate.yaml /etc/unigate/unigate.yaml

WORKDIR /var/lib/unigate
VOLUME ["/var/lib/unigate"]
USER 10001
EXPOSE 8080
STOPSIGNAL SIGTERM
# /healthz answers 200 without a token while the process is up (slim images have no curl); the
# start period covers the wait for a PostgreSQL store that starts beside the gateway.
HEALTHCHECK --interval=15s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["unigate"]
CMD ["serve", "--config", "/etc/unigate/unigate.yaml", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/var/lib/unigate", "--log-format", "json"]
