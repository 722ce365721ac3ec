# The project's image: the official Apache Airflow image with csc-pipeline's
# pinned dependencies, the etl package and the DAG files baked in.  Built by
# `docker compose build` (docker-compose.yml); see docs/production.md.
#
# The tag names the same Airflow as requirements.lock and the same Python the
# lock is compiled for (tests/test_compose.py checks both).
FROM apache/airflow:3.3.2-python3.11

# Folders the compose file mounts volumes on, created here so that new named
# volumes start out owned by the Airflow user (group 0 for any AIRFLOW_UID).
USER root
# Headless Chromium prints each pack's PDF copy (etl/report/pdf.py), with the
# Liberation fonts standing in for Arial; Debian's packages, no browser download.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        chromium fonts-liberation \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /opt/csc-pipeline /opt/csc/landing /opt/csc/reports /opt/csc/var /opt/airflow/auth \
    && chown -R airflow:0 /opt/csc-pipeline /opt/csc /opt/airflow/auth \
    && chmod -R g+rwX /opt/csc /opt/airflow/auth
USER airflow

# Dependencies first, so that a change of code does not reinstall them.  The
# lock pins every package, Airflow included; naming apache-airflow again at the
# image's own version (Airflow's advice for extending its image) makes a lock
# that drifted from this FROM line fail the build instead of replacing Airflow.
# --compile-bytecode: uv installs without .pyc files by default, and every
# task process would then compile pandas, SQLAlchemy and GX again (seconds).
COPY --chown=airflow:0 requirements.lock /opt/csc-pipeline/requirements.lock
RUN uv pip install --no-cache --compile-bytecode "apache-airflow==${AIRFLOW_VERSION}" \
        -r /opt/csc-pipeline/requirements.lock

# The project itself, editable as `make install` does, so that the DAG folder
# below is /opt/csc-pipeline/dags (a wheel would serve too: .ci/wheel-smoke).
COPY --chown=airflow:0 . /opt/csc-pipeline
RUN uv pip install --no-cache --no-deps -e /opt/csc-pipeline \
    && python -c "import etl.cli, airflow.providers.celery.executors.celery_executor, airflow.providers.smtp" \
    && csc-pipeline --help > /dev/null

# The DAG files are in the image, next to the etl package they import.
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/csc-pipeline/dags
