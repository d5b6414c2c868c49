# The monitor as a service: `monitor serve`, as the non-root user `monitor` (uid 10001).
# config/ (read-only) and storage/ (database, digests) are mounted; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MONITOR_CONFIG=/app/config
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
# tzdata: the IANA zones for [schedule] timezone, whatever the base image carries.
# EXTRAS=postgres for the workers of the `scale` profile (psycopg, Procrastinate)
ARG EXTRAS=""
RUN pip install ".${EXTRAS:+[$EXTRAS]}" tzdata \
    && useradd --create-home --uid 10001 monitor \
    && mkdir -p /app/config /app/storage \
    && chown monitor:monitor /app/storage
COPY config ./config
USER monitor
VOLUME ["/app/storage"]
# Exec form: monitor is PID 1 and gets the signal itself. On SIGTERM it starts nothing new and
# gives running work [service] stop_timeout (20 s) to finish; give docker stop more than that.
STOPSIGNAL SIGTERM
# /readyz of the web side ([web] listen, loopback by default): `monitor status --check`'s verdict.
HEALTHCHECK --interval=60s --timeout=30s --start-period=120s --retries=3 CMD ["monitor", "web", "--check"]
ENTRYPOINT ["monitor"]
CMD ["--log-json", "serve"]
