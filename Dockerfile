# The image compose.yaml and deploy/ run: the animgraph distribution on Python 3.11, its
# dependencies from the lock (requirements/app.txt, hashes checked), so an image built next
# year holds what passed CI today. For images that must not change at all, pin the base image
# by digest (FROM python:3.11-slim-bookworm@sha256:...) in your registry.
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY requirements requirements
RUN pip install --no-cache-dir --require-hashes -r requirements/build.txt \
    && pip install --no-cache-dir --require-hashes -r requirements/app.txt
COPY pyproject.toml README.md ./
COPY shared shared
COPY workers workers
COPY producer producer
# gcc builds the GIF encoder's C module (with the locked setuptools); it is removed again once
# the wheel is built.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir --no-deps --no-build-isolation . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 animgraph \
    && mkdir -p /var/lib/animgraph/storage && chown -R animgraph /var/lib/animgraph
# compose.yaml mounts its shared `storage` volume here: a new named volume takes this folder's
# owner, so the workers and the API (uid 1000) can write to it.
# Numeric, so Kubernetes can check runAsNonRoot (deploy/ runs it as 1000).
USER 1000
CMD ["animgraph", "--help"]
