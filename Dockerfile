# Slim runtime image: the package, its templates and example config; runs as non-root.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EMPIKGO_CONFIG=/app/config/empikgo.toml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY empikgo_mailer ./empikgo_mailer
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin empikgo \
    && mkdir -p /app/data \
    && chown empikgo /app/data

COPY config ./config
COPY templates ./templates

USER empikgo
VOLUME ["/app/data"]
# `web` listens here (with --host 0.0.0.0 inside the container).
EXPOSE 8080
ENTRYPOINT ["empikgo-mailer"]
CMD ["status"]
