"""Pack configurations that ask for sign-off: the embedded one, with ``sign_off`` added."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from etl.report.config import config_path

APPROVER = "head-of-performance"


def write_sign_off_config(
    folder: Path,
    *,
    wait_hours: float = 48,
    audiences: tuple[str, ...] = ("commissioner", "partnership"),
    signed_off: tuple[str, ...] = ("commissioner",),
) -> Path:
    """The embedded pack.yml with only ``audiences``, ``signed_off`` of them needing sign-off."""
    data: dict[str, Any] = yaml.safe_load(config_path({}).read_text(encoding="utf-8"))
    kept = [a for a in data["audiences"] if a["name"] in audiences]
    for audience in kept:
        if audience["name"] in signed_off:
            audience["sign_off"] = {"approvers": [APPROVER], "wait_hours": wait_hours}
    data["audiences"] = kept
    path = folder / "pack-sign-off.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
