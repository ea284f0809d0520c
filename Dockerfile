FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY pyproject.toml README.md ./
COPY client_audit ./client_audit
COPY producer ./producer
COPY consumer ./consumer
COPY projections ./projections
COPY schemas ./schemas
COPY devservices ./devservices

RUN pip install . \
    && useradd --system --uid 10001 --no-create-home client-audit

USER client-audit
EXPOSE 8080
ENTRYPOINT ["client-audit"]
CMD ["--help"]
