# msgtrace: docker build -t msgtrace . && docker run -p 4321:4321 -p 4317:4317 -v msgtrace-data:/data msgtrace
# PYTHON_IMAGE lets a build substitute a local or mirrored base image.
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /venv && /venv/bin/pip install -r /tmp/requirements.txt

FROM ${PYTHON_IMAGE}
# pango and a font for the PDF reports (WeasyPrint)
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MSGTRACE_HOST=0.0.0.0 \
    MSGTRACE_PORT=4321 \
    MSGTRACE_GRPC_PORT=4317 \
    MSGTRACE_DB_PATH=/data/msgtrace.sqlite3 \
    MSGTRACE_STATIC_ROOT=/app/staticfiles
RUN useradd --system --uid 10001 --no-create-home --home-dir /app msgtrace \
    && mkdir -p /data && chown msgtrace:msgtrace /data
COPY --from=builder /venv /venv
WORKDIR /app
COPY . .
# Static files are collected at build time; the key is only needed to import the settings.
RUN SECRET_KEY=collectstatic python manage.py collectstatic --noinput -v0
USER msgtrace
VOLUME ["/data"]
# the web UI, REST API and OTLP/HTTP; OTLP/gRPC
EXPOSE 4321 4317
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('MSGTRACE_PORT', '4321'), timeout=4)"
CMD ["python", "manage.py", "start"]
