# moto's S3 API server in place of MinIO, for hosts where MinIO cannot be had (compose.local.yaml).
# local_s3.py keeps every write in a log on the minio-data volume and replays it at start, so the
# store survives a restart of the stack as MinIO's would (moto itself keeps objects in memory).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH
# moto's version is the one the tests run against (constraints.txt).
ARG MOTO_VERSION=5.2.5
WORKDIR /data
ENTRYPOINT ["python", "/opt/local_s3/local_s3.py"]
CMD ["serve", "--host", "127.0.0.1", "--port", "9000", "--log", "/data/writes.jsonl"]
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install "moto[s3,server]==${MOTO_VERSION}" \
    && groupadd --system --gid 10001 advisor \
    && useradd --system --uid 10001 --gid advisor --no-create-home advisor \
    && chown advisor:advisor /data
USER 10001:10001
COPY local_s3.py /opt/local_s3/local_s3.py
