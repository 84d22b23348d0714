# A small image that runs the bot as a non-root user with the data directory as a volume.
# The install steps are the ones .ci/run proves on every change: pip installs uv, then
# `uv sync --locked` installs exactly what uv.lock says.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv \
    DATABASE_URL=sqlite+aiosqlite:////data/bot.db

RUN python3 -m pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project
COPY bot ./bot
# content/ carries the wording, the cited articles and the fonts of the charts (content/fonts)
COPY content ./content
COPY README.md ./

RUN useradd --create-home --uid 10001 coach && mkdir -p /data && chown coach /data
USER coach
VOLUME ["/data"]
EXPOSE 8080

# Webhook mode: the health endpoint (database reachable). Polling mode: the database answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/app/.venv/bin/python", "-m", "bot", "healthcheck"]

ENTRYPOINT ["/app/.venv/bin/python", "-m", "bot"]
CMD ["run"]
