# One image for DVC stages, Kubeflow components and users (completed by the Kubeflow issue).
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir -r requirements.txt && pip install --no-cache-dir --no-deps .
ENTRYPOINT ["mtsed"]
