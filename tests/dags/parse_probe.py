"""Parse each DAG file as the DAG processor would, and report what parsing did.

Run in a fresh process (``python -m tests.dags.parse_probe DAG_FILE...``):
prints, per file, the parse time with Airflow already imported, the
metadata-database queries made, the connection and Variable lookups made
(recorded by a real secrets backend,
:class:`~tests.dags.recording_secrets.RecordingBackend`, which Airflow
consults before any other) and any import error.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from tests.dags.recording_secrets import LOOKUPS

#: What makes Airflow consult the recording backend first, in every context.
BACKEND = "tests.dags.recording_secrets.RecordingBackend"
ENVIRONMENT = {"AIRFLOW__SECRETS__BACKEND": BACKEND, "AIRFLOW__WORKERS__SECRETS_BACKEND": BACKEND}


def probe(paths: list[str]) -> dict[str, dict[str, Any]]:
    import sqlalchemy as sa
    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag

    queries: list[str] = []
    sa.event.listen(
        settings.engine, "before_cursor_execute", lambda *args: queries.append(str(args[2]))
    )
    report = {}
    heavy = ("pandas", "great_expectations", "matplotlib", "etl.report", "etl.warehouse")
    for path in paths:
        queries.clear()
        LOOKUPS.clear()
        started = time.perf_counter()
        bag = DagBag(path, bundle_path=os.path.dirname(path))
        seconds = time.perf_counter() - started
        report[os.path.basename(path)] = {
            "seconds": seconds,
            "dags": sorted(bag.dag_ids),
            "queries": list(queries),
            "lookups": list(LOOKUPS),
            "import_errors": {os.path.basename(k): v for k, v in bag.import_errors.items()},
            "heavy_modules": sorted(m for m in sys.modules if m.startswith(heavy)),
        }
    return report


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1:])))
