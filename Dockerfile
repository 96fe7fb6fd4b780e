# Customs proxy image. Build from the repository root:  docker build -t codecustoms:0.1.0 .
# Runtime state (interception CA, audit spool, chDB data, SQLite ledger) lives on the
# /var/lib/customs volume; configuration is read from /etc/customs/customs.yaml.

# Base pinned by exact version; renovate/dependabot can bump it (add @sha256:... to pin by digest).
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY redaction ./redaction
COPY audit ./audit
# A venv in /opt/customs is copied whole into the runtime stage: no compilers there.
RUN python -m venv /opt/customs \
 && /opt/customs/bin/pip install ".[redis]"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="customs" \
      org.opencontainers.image.description="Governance proxy for AI coding traffic" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/customs/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CUSTOMS_DATA_DIR=/var/lib/customs
RUN groupadd --system --gid 10001 customs \
 && useradd --system --uid 10001 --gid customs --home-dir /var/lib/customs --shell /usr/sbin/nologin customs \
 && mkdir -p /var/lib/customs /var/lib/opa-bundle /etc/customs \
 && chown customs:customs /var/lib/customs /var/lib/opa-bundle \
 && chmod 0700 /var/lib/customs
COPY --from=build /opt/customs /opt/customs
# Default policies and config; deployments mount their own over /etc/customs.
COPY policies /etc/customs/policies
COPY deploy/docker/customs.yaml /etc/customs/customs.yaml
# Lays out the policies as an OPA bundle (compose's opa-bundle job, the Kubernetes init container).
COPY deploy/opa/make_bundle.py /opt/customs/share/make_bundle.py
WORKDIR /etc/customs
USER 10001:10001
VOLUME ["/var/lib/customs"]
# 8080 explicit proxy (HTTPS_PROXY), 8081 gateway (base URLs), 8082 admin (health, metrics, audit).
EXPOSE 8080 8081 8082
# slim has no curl: ask /healthz with the interpreter that is already there.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8082/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["customs", "run", "--config", "/etc/customs/customs.yaml"]
