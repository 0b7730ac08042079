# The image compose.yaml runs: the animgraph distribution on Python 3.11.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared shared
COPY workers workers
COPY producer producer
# gcc builds the GIF encoder's C module; it is removed again once the wheel is built.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home animgraph \
    && mkdir -p /var/lib/animgraph && chown animgraph /var/lib/animgraph
USER animgraph
CMD ["animgraph", "--help"]
