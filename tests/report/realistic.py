"""A realistic month: the demo's March 2025 pack (LA 330, 36 months of sample extracts).

The demo's own sample files (``csc-pipeline demo``: seed 1, April 2022 on) are
read by the real reader and pseudonymised; the 35 months before the pack's
are loaded straight from there (their validation is the ingest tests'
business, and GX would add minutes), and the pack's own month goes through
the whole ingest - reader, pseudonymiser, GX, load, measures - so its
data-quality appendix is what a real run records.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from etl.filing import sha256_of
from etl.ingest import Folders, ingest_files
from etl.months import Month
from etl.pseudonymise import pseudonymise
from etl.reader import read_extract
from etl.reference.load import load_shipped
from etl.sample import write_sample
from etl.warehouse.load import load_month

LA = "330"
START = Month(2022, 4)
MONTHS = 36
MONTH = START + (MONTHS - 1)
KEY = b"realistic-month-test-key-0123"


def load_realistic(engine: Engine, folder: Path, gx_dir: Path) -> Month:
    """Load the demo's 36 months into ``engine`` (migrated) and DfE's releases; the pack's month."""
    files = write_sample(folder / "sample", la_code=LA, start=START, months=MONTHS, seed=1)
    earlier = [p for p in files if not p.stem.endswith(str(MONTH))]
    for path in earlier:
        extract = read_extract(path)
        if extract.name is None or extract.problems:
            raise RuntimeError(f"{path.name}: the sample file does not read cleanly")
        frame = pseudonymise(extract.frame, extract.contract, KEY)
        load_month(
            engine,
            dataset=extract.name.dataset,
            la_code=LA,
            month=extract.name.month,
            frame=frame,
            file_name=path.name,
            file_sha256=sha256_of(path),
            rows_read=extract.rows,
            warnings=0,
            validation_summary={"file": path.name, "rows": len(frame), "problems": []},
            loaded_by="test",
        )
    last = [p for p in files if p not in earlier]
    folders = Folders(folder / "archive", folder / "quarantine")
    results = ingest_files(
        last, engine=engine, key=KEY, folders=folders, loaded_by="test", gx_dir=gx_dir
    )
    if [r.status for r in results] != ["loaded"] * 3:
        raise RuntimeError(f"the pack's month did not load: {results}")
    load_shipped(engine, loaded_by="test", gx_dir=gx_dir)
    return MONTH
