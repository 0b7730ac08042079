# The image compose.yaml runs: the animgraph distribution on Python 3.11.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared shared
COPY workers workers
COPY producer producer
RUN pip install --no-cache-dir . && useradd --create-home animgraph \
    && mkdir -p /var/lib/animgraph && chown animgraph /var/lib/animgraph
USER animgraph
CMD ["animgraph", "--help"]
