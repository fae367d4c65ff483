# The lakehouse image: the Prefect worker, the deploy and bucket-init jobs and the dashboard of
# infra/docker-compose.yml (`make up`). Build context: the repository root.
#
#   docker build -t lakehouse .
#
# Two stages: the builder installs the project with its exact pins (constraints.txt) into a venv;
# the runtime copies the venv and the project folder, runs as a non-root user and has the DuckDB
# extensions installed from their pip packages (nothing is downloaded at run time).

# ---- builder: a venv with every pinned dependency and the project --------------------------
FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /app

# The dependencies first, in their own layer: a code change does not reinstall them. The
# package directories are empty stand-ins here; the project itself is installed below.
COPY pyproject.toml constraints.txt README.md ./
RUN mkdir -p flows generators app infra \
    && touch flows/__init__.py generators/__init__.py app/__init__.py infra/__init__.py \
    && pip install --no-cache-dir --constraint constraints.txt . \
    && pip uninstall --yes lakehouse

# The project, editable: flows/ finds dbt_project.yml, models/, macros/ and checks/ beside
# itself (flows/settings.py: PROJECT_DIR), which a copy in site-packages would not
# (docs/decisions/015-docker-compose-and-terraform.md).
COPY . .
RUN pip install --no-cache-dir --no-deps --constraint constraints.txt --editable . \
    && rm -rf build

# ---- runtime ------------------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="lakehouse" \
      org.opencontainers.image.description="Local-first e-commerce analytics lakehouse: Prefect worker and Streamlit dashboards" \
      org.opencontainers.image.licenses="Apache-2.0"

# Telemetry off everywhere (the Makefile's exports), no pip cache, unbuffered logs.
ENV DO_NOT_TRACK=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    SODA_CORE_TELEMETRY_ENABLED=false \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    LAKEHOUSE_PROJECT_DIR=/app \
    LAKEHOUSE_WAREHOUSE_PATH=/data/warehouse/lakehouse.duckdb \
    LAKEHOUSE_SOURCE_DB_URL=sqlite:////data/sources/shop.sqlite \
    LAKEHOUSE_DUCKDB_TEMP_DIRECTORY=/data/tmp

# A non-root user owning only /data (the named volumes are initialised from these folders,
# ownership included); the code and the venv stay root's, read-only to the user.
RUN groupadd --system --gid 10001 lakehouse \
    && useradd --system --uid 10001 --gid lakehouse --home-dir /home/lakehouse --create-home \
       --shell /usr/sbin/nologin lakehouse \
    && mkdir -p /data/warehouse /data/sources /data/logs /data/tmp \
    && chown -R lakehouse:lakehouse /data

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app

USER 10001:10001
WORKDIR /app

# httpfs, json, sqlite_scanner, postgres_scanner from their pip packages into the user's
# DuckDB extension directory (~/.duckdb/extensions).
RUN python -m flows.runtime.extensions

# 8501: the dashboard (`lakehouse serve --host 0.0.0.0`); 8080: the worker's health endpoint.
# Health checks are per service in infra/docker-compose.yml: one image, several roles.
EXPOSE 8501 8080

CMD ["lakehouse", "--help"]
