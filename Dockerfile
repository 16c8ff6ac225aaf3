# The connector as a container: `connector serve` (gunicorn + connector:create_app())
# on port 8080. Used by docker-compose.yml next to n8n; see n8n-workflows/README.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# openapi.yaml too: connector/openapi.yaml links to it, and without it the wheel has no spec
# and GET /openapi.yaml answers 500. constraints.txt: the versions CI passed with.
COPY pyproject.toml README.md openapi.yaml constraints.txt ./
COPY connector ./connector
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /data connector \
    && mkdir -p /data && chown connector /data

# The ledger (SQLite, WAL) lives on a volume so claims survive a restart and are
# shared by all gunicorn workers of this container.
ENV CONNECTOR_MODE=production \
    DATABASE_PATH=/data/connector-state.sqlite3 \
    PORT=8080 \
    WEB_CONCURRENCY=2
VOLUME ["/data"]
USER connector
EXPOSE 8080

# An empty PORT is unset, as for `connector serve`: the default port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('PORT', '').strip() or '8080'), timeout=4)"]

# Production mode refuses to start without KOJI_WEBHOOK_SECRET and CONNECTOR_API_KEYS.
# `connector serve` reads PORT and WEB_CONCURRENCY itself, so a bad value is refused naming
# the variable (and an empty one is unset); no shell, so it is PID 1 and gets SIGHUP and SIGTERM.
CMD ["connector", "serve", "--host", "0.0.0.0"]
