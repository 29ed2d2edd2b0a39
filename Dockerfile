# The one geoledger image: every ingest node and worker of docker-compose.yml runs it with its own
# command (`geoledger ingest serve ...`, `geoledger worker run --queue ...`).
# An exact tag, so a rebuild gets the same Python and Debian release.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid, so volumes written by one container are readable by the next one of this image.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/geoledger --shell /usr/sbin/nologin geoledger \
    && mkdir -p /var/lib/geoledger/wal /var/lib/geoledger/keys \
    && chown -R geoledger:geoledger /var/lib/geoledger

WORKDIR /src
# The package only (runtime dependencies, no dev or embedded extras); tests and SDKs stay out
# (.dockerignore). sdk/golden is a package of pyproject's (the golden-vector builder).
COPY pyproject.toml README.md ./
COPY ledger ledger/
COPY storage storage/
COPY workflows workflows/
COPY activities activities/
COPY workers workers/
COPY api api/
COPY cli cli/
COPY sdk/golden sdk/golden/
RUN pip install . && rm -rf /src

USER geoledger
WORKDIR /var/lib/geoledger
ENTRYPOINT ["geoledger"]
CMD ["ingest", "serve"]
