# The Sealchain API image. `docker compose up` runs it with PostgreSQL (docker-compose.yml);
# alone it serves the ledger home in the /data volume (SQLite there unless
# SEALCHAIN_DATABASE_URL names a database). tests/integration/test_deployment.py runs every
# command below outside Docker.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SEALCHAIN_HOME=/data

# A fixed unprivileged user owns the home: the private keys in it are mode 0600.
RUN useradd --create-home --uid 10001 sealchain \
    && mkdir /data \
    && chown sealchain:sealchain /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ledger ledger
COPY apps apps
RUN pip install .

USER sealchain
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["sealchain", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
