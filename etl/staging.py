"""Validated frames between the validate and load tasks of a DAG run.

An Airflow XCom carries only small values, so the validate task writes the
pseudonymised frame as Parquet under ``var/staging`` and passes its path on
with the :class:`~etl.ingest.Accepted` record.  The frame is already
pseudonymised: staging never holds a raw identifier.  In a distributed
deployment ``var/`` is a volume every worker mounts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from etl.ingest import Accepted


def staged_path(staging_dir: Path, accepted: Accepted) -> Path:
    """One file per dataset, LA, month and file content: reruns overwrite their own."""
    name = f"{accepted.dataset}_{accepted.la_code}_{accepted.month}_{accepted.sha256[:16]}"
    return staging_dir / f"{name}.parquet"


def stage(frame: pd.DataFrame, staging_dir: Path, accepted: Accepted) -> Path:
    """Write ``frame`` and its load record for the load task; returns the frame's path."""
    target = staged_path(staging_dir, accepted)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    frame.to_parquet(partial, index=False)
    _record(target).write_text(json.dumps(accepted.to_json()), encoding="utf-8")
    # Renamed into place last, so a load task never reads a half-written stage.
    partial.replace(target)
    return target


def unstage(path: Path) -> tuple[Accepted, pd.DataFrame]:
    """The load record and frame :func:`stage` wrote, with the same dtypes."""
    return staged_record(path), pd.read_parquet(path)


def staged_record(path: Path) -> Accepted:
    """The load record of a stage, without reading its frame."""
    return Accepted.from_json(json.loads(_record(path).read_text(encoding="utf-8")))


def discard(path: Path) -> None:
    """Remove a stage once loaded."""
    path.unlink(missing_ok=True)
    _record(path).unlink(missing_ok=True)


def _record(path: Path) -> Path:
    return path.with_suffix(".json")
