"""The Airflow Assets the DAGs produce and consume.

An ingest DAG emits an event on its dataset's asset once a month is loaded
and its measures recomputed; the event's ``extra`` carries ``la_code`` and
``month`` so the report DAG knows which pack to build.
"""

from __future__ import annotations

from airflow.sdk import Asset

from etl.contracts import DATASETS

LOADED: dict[str, Asset] = {
    dataset: Asset(name=f"csc_{dataset}_loaded", uri=f"csc-warehouse://measures/{dataset}")
    for dataset in DATASETS
}
