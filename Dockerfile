# empikgo-mailer as a container: one image for the daemon (`run`), the console and
# catalogue door (`web`), the nightly `backup --daily` (copies in /var/backups/empikgo)
# and the one-shot commands (`init`, imports, `backup`, `restore`).
#   podman build --format docker -t empikgo-mailer .   (or docker build -t empikgo-mailer .)
# Configuration: a TOML file mounted at /etc/empikgo/empikgo.toml; data (SQLite, the drop
# folder) in the volume /var/lib/empikgo; secrets as environment variables (an env file).

# Build stage: the package and its dependencies into a virtual environment, at the versions
# of the lock (requirements/*.lock, hashes checked: the same resolution CI and developers
# install). Every dependency ships wheels, so no compiler is needed here either.
# LOCK=charts adds matplotlib for `report --chart` (160 MB; the console draws its own charts).
FROM python:3.11-slim AS build
ARG LOCK=runtime
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/empikgo
COPY requirements/${LOCK}.lock ./requirements.lock
RUN /opt/empikgo/bin/pip install --only-binary=:all: --no-compile --require-hashes --no-deps \
        -r requirements.lock
COPY pyproject.toml README.md ./
COPY empikgo_mailer ./empikgo_mailer
RUN /opt/empikgo/bin/pip install --no-compile --no-deps --no-build-isolation . \
    && /opt/empikgo/bin/pip uninstall --yes --quiet pip setuptools \
    && /opt/empikgo/bin/python -m compileall -q /opt/empikgo

# Runtime stage: the virtual environment only; no build tools, no sources, non-root.
FROM python:3.11-slim
ENV PATH=/opt/empikgo/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EMPIKGO_CONFIG=/etc/empikgo/empikgo.toml \
    EMPIKGO_DATA_DIR=/var/lib/empikgo
# pg_dump and pg_restore for `backup` / `restore` with PostgreSQL (Debian's client only, no
# server). pg_dump refuses a server newer than itself: the client's major must be >= the
# server's. python:3.11-slim is Debian trixie today (client 17, fine for postgres:16 of
# compose.yaml); an image on bookworm has client 15 (the local stand-in's "postgres:16" is
# PostgreSQL 15, so the two match here).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-client \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/empikgo \
        --shell /usr/sbin/nologin empikgo \
    && mkdir -p /var/lib/empikgo /etc/empikgo /var/backups/empikgo \
    && chown empikgo:empikgo /var/lib/empikgo /var/backups/empikgo
COPY --from=build /opt/empikgo /opt/empikgo
USER empikgo
WORKDIR /var/lib/empikgo
VOLUME ["/var/lib/empikgo"]
EXPOSE 8080
# Ready = database reachable, schema current, the daemon's heartbeat fresh (as /readyz).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["empikgo-mailer", "healthcheck"]
# The daemon finishes the item in hand and exits within 2 s of SIGTERM.
STOPSIGNAL SIGTERM
ENTRYPOINT ["empikgo-mailer"]
CMD ["-v", "run"]
