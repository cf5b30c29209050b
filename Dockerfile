# One image for DVC stages, Kubeflow components and users: `mtsed` is the entry point.
# CPU by default; for CUDA build with a CUDA base, e.g.
#   docker build --build-arg BASE_IMAGE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 \
#                --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124 -t mtsed:cuda .
# (a CUDA base image must provide python3.11 and pip).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    DVC_NO_ANALYTICS=1

# libsndfile for soundfile; git for DVC and MLflow's commit tags. Debian's versions are left
# to the base image's release (pinning them breaks every base-image update).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsndfile1 git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first: this layer is rebuilt only when the pins change.
# sed_scores_eval_np2 ships as source with a Cython extension: a C compiler for the build
# only, removed in the same layer.
COPY requirements.txt ./
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --extra-index-url "${TORCH_INDEX}" -r requirements.txt \
    && apt-get purge -y --auto-remove gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps . \
    && useradd --create-home --uid 1000 mtsed
USER 1000
WORKDIR /home/mtsed/work
ENTRYPOINT ["mtsed"]
CMD ["--help"]
