# One image for the reference service, the LLM stand-in and the Locust
# master/workers of docker-compose.yml: they share the project's code, so one
# build keeps them at the same version. The default command runs the service;
# compose gives the other roles their own command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies change less often than the code, but `pip install .` needs the
# packages present, so copy what the build reads and install once.
COPY pyproject.toml README.md ./
COPY harness/ harness/
COPY reference_service/ reference_service/
RUN pip install .

# Locust scenarios are not a package: they are run from the directory.
COPY scenarios/ scenarios/
ENV HARNESS_SCENARIOS=/app/scenarios \
    REFSVC_HOST=0.0.0.0 \
    REFSVC_PORT=8000

# 8000 service, 8080 LLM stand-in, 8089 Locust web UI, 5557 Locust master.
EXPOSE 8000 8080 8089 5557

CMD ["python", "-m", "reference_service"]
