# The meshgate image: the registry (`meshgate serve`) and the pipeline (Dagster webserver and daemon
# over meshgate.pipeline.definitions).
# Multi-stage: the build stage compiles into a virtualenv; the runtime stage copies the virtualenv and
# the source tree to the same paths (an editable install, so the dbt project and the example
# contracts beside the packages are found), without compilers, as a non-root user.

FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/meshgate
COPY . .
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/venv/bin/pip install --no-cache-dir -e ".[deploy]"

FROM python:3.11-slim AS runtime
# git: contract-check compares refs; tini: signals reach the servers, zombies are reaped.
RUN apt-get update && apt-get install -y --no-install-recommends git tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 meshgate \
    && useradd --system --uid 10001 --gid meshgate --home-dir /opt/meshgate --shell /usr/sbin/nologin meshgate
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/meshgate /opt/meshgate
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml
# Writable by the service user: the data dir, Dagster's home, dbt's target/ (the manifest is parsed
# when the code location loads) and models/bronze/sources.yml (regenerated on contract changes).
RUN mkdir -p /var/lib/meshgate /opt/meshgate/dbt/target \
    && chown -R meshgate:meshgate /var/lib/meshgate /opt/dagster/home /opt/meshgate/dbt

ENV PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    MESHGATE_DATA_DIR=/var/lib/meshgate \
    PYTHONUNBUFFERED=1
WORKDIR /opt/meshgate
USER meshgate
EXPOSE 50051 8081 3000
ENTRYPOINT ["tini", "--"]
CMD ["meshgate", "serve", "--host", "0.0.0.0", "--grpc-port", "50051", "--http-port", "8081"]
