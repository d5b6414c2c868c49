# The monitor in a container: config/ and storage/ are mounted volumes.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install . && useradd --create-home --uid 10001 monitor && mkdir -p /app/config /app/storage \
    && chown monitor:monitor /app/storage
COPY config ./config
USER monitor
VOLUME ["/app/config", "/app/storage"]
ENTRYPOINT ["monitor"]
CMD ["run", "--once"]
