# One image for every service. TORCH_INDEX_URL picks the torch build: the CPU wheels for the
# API, decode and encode; a CUDA 12 index for the upscale workers (see docker-compose.yml).
FROM python:3.11-slim

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 enhancer \
 && mkdir -p /models /data && chown enhancer /models /data
WORKDIR /app

# torch first, from the chosen index, so the project install below cannot replace it.
COPY constraints.txt ./
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0

COPY pyproject.toml README.md ./
COPY common ./common
COPY ingress ./ingress
COPY pipeline ./pipeline
COPY main.py ./
RUN pip install -c constraints.txt .

USER enhancer
EXPOSE 8888
CMD ["python", "-m", "ingress"]
