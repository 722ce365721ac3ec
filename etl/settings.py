"""Settings from the environment (a ``.env`` file may hold them).

Names are a contract (INTERFACE.md).  Defaults are the embedded ones: every
folder and the SQLite warehouse under ``var/`` of the working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from etl.errors import ConfigError
from etl.filenames import is_la_code


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    warehouse_url: str
    landing_dir: Path
    reports_dir: Path
    pseudonym_key: str | None
    #: The LAs whose extracts the scheduled DAGs wait for (CSC_LA_CODES).
    la_codes: tuple[str, ...] = ("330",)

    @property
    def archive_dir(self) -> Path:
        return self.var_dir / "archive"

    @property
    def quarantine_dir(self) -> Path:
        return self.var_dir / "quarantine"

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"

    @property
    def staging_dir(self) -> Path:
        """Validated, pseudonymised frames waiting for their load task (Parquet)."""
        return self.var_dir / "staging"

    @property
    def gx_dir(self) -> Path:
        """The working GX project: the committed suites plus results and Data Docs."""
        return self.var_dir / "gx"

    def folders(self) -> list[Path]:
        """Every folder the pipeline writes to."""
        return [
            self.landing_dir,
            self.reports_dir,
            self.archive_dir,
            self.quarantine_dir,
            self.outbox_dir,
            self.staging_dir,
        ]

    def require_pseudonym_key(self) -> bytes:
        """The HMAC key; its absence outside the demo is a configuration error."""
        if not self.pseudonym_key:
            raise ConfigError(
                "CSC_PSEUDONYM_KEY is not set: identifiers cannot be pseudonymised "
                "without the deployment's secret key"
            )
        return self.pseudonym_key.encode("utf-8")


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment plus ``.env``)."""
    if env is None:
        load_dotenv(override=False)
        env = dict(os.environ)
    var_dir = Path(env.get("CSC_VAR_DIR", "var"))
    default_db = f"sqlite:///{(var_dir / 'warehouse.db').as_posix()}"
    return Settings(
        var_dir=var_dir,
        warehouse_url=env.get("CSC_WAREHOUSE_URL") or default_db,
        landing_dir=Path(env.get("CSC_LANDING_DIR") or var_dir / "landing"),
        reports_dir=Path(env.get("CSC_REPORTS_DIR") or var_dir / "reports"),
        pseudonym_key=env.get("CSC_PSEUDONYM_KEY") or None,
        la_codes=_la_codes(env.get("CSC_LA_CODES") or "330"),
    )


def _la_codes(text: str) -> tuple[str, ...]:
    codes = tuple(code.strip() for code in text.split(",") if code.strip())
    bad = [code for code in codes if not is_la_code(code)]
    if bad or not codes:
        raise ConfigError(
            f"CSC_LA_CODES must be 3-digit DfE LA codes separated by commas, not {text!r}"
        )
    return codes
