"""Settings from the environment (a ``.env`` file may hold them).

Names are a contract (INTERFACE.md).  Defaults are the embedded ones: every
folder and the SQLite warehouse under ``var/`` of the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from etl.errors import ConfigError
from etl.filenames import is_la_code

#: Minimum pseudonymisation key length in bytes; shorter keys are a configuration error.
MIN_KEY_BYTES = 16
#: The PostgreSQL and SQLite URLs the warehouse accepts, as people write them.
_URL_EXAMPLES = "postgresql+psycopg://user@host:5432/warehouse or sqlite:///var/warehouse.db"


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
        return [folder for _setting, folder in self._named_folders()]

    def _named_folders(self) -> list[tuple[str, Path]]:
        """Each folder with the setting that places it."""
        return [
            ("CSC_LANDING_DIR", self.landing_dir),
            ("CSC_REPORTS_DIR", self.reports_dir),
            ("CSC_VAR_DIR", self.archive_dir),
            ("CSC_VAR_DIR", self.quarantine_dir),
            ("CSC_VAR_DIR", self.outbox_dir),
            ("CSC_VAR_DIR", self.staging_dir),
        ]

    def check_folders(self) -> None:
        """Raise :class:`ConfigError` unless every folder exists or can be made, writable.

        Called before ``init`` (or the demo) creates anything, so a wrong
        setting leaves no folder half-made.
        """
        for setting, folder in self._named_folders():
            check_writable_folder(folder, setting)

    def check_landed(self, files: Iterable[Path]) -> None:
        """Raise :class:`ConfigError` unless ``files`` can be filed away once ingested.

        The archive and quarantine must be writable, and so must each file's
        folder (the file moves out of it): checked before any work starts.
        """
        check_writable_folder(self.archive_dir, "CSC_VAR_DIR")
        check_writable_folder(self.quarantine_dir, "CSC_VAR_DIR")
        for folder in dict.fromkeys(Path(f).parent for f in files):
            if _same(folder, self.landing_dir):
                folder, named = self.landing_dir, "CSC_LANDING_DIR"
            else:
                named = "the folder"
            check_writable_folder(folder, named, purpose="ingested files are moved out of it")

    def require_landing_dir(self) -> Path:
        """The landing folder, which must exist (a mount that is missing is a fault)."""
        if not self.landing_dir.is_dir():
            raise ConfigError(
                f"CSC_LANDING_DIR {self.landing_dir} does not exist or is not a folder: "
                "extracts cannot land there (run `csc-pipeline init`, or mount the share)"
            )
        return self.landing_dir

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
        warehouse_url=_warehouse_url(env.get("CSC_WAREHOUSE_URL") or default_db),
        landing_dir=Path(env.get("CSC_LANDING_DIR") or var_dir / "landing"),
        reports_dir=Path(env.get("CSC_REPORTS_DIR") or var_dir / "reports"),
        pseudonym_key=_pseudonym_key(env.get("CSC_PSEUDONYM_KEY") or None),
        la_codes=_la_codes(env.get("CSC_LA_CODES") or "330"),
    )


def _pseudonym_key(key: str | None) -> str | None:
    """The key as set; too short a key is refused here, before any work starts."""
    if key is not None and len(key.encode("utf-8")) < MIN_KEY_BYTES:
        raise ConfigError(
            f"CSC_PSEUDONYM_KEY is {len(key.encode('utf-8'))} bytes long but must be at "
            f"least {MIN_KEY_BYTES} (generate one with `openssl rand -hex 32`)"
        )
    return key


def _warehouse_url(text: str) -> str:
    """The warehouse URL, refused here when it is not a PostgreSQL or SQLite URL."""
    import sqlalchemy as sa  # not at import: DAG files import this module when parsed

    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError:
        # Not echoed: a malformed URL may still hold a password.
        raise ConfigError(
            f"CSC_WAREHOUSE_URL is not a database URL: write it as {_URL_EXAMPLES}"
        ) from None
    if url.get_backend_name() not in ("postgresql", "sqlite"):
        raise ConfigError(
            f"CSC_WAREHOUSE_URL names a {url.get_backend_name()!r} database, but the "
            f"warehouse is PostgreSQL or SQLite: write it as {_URL_EXAMPLES}"
        )
    return text


def check_writable_folder(folder: Path, setting: str, *, purpose: str = "") -> None:
    """Raise :class:`ConfigError` unless ``folder`` is (or can be made) a writable folder.

    Checks what really fails, as root too: a path under a regular file, and
    a read-only file system (``access(2)`` reports EROFS even for root).
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"{setting} {folder} is a file, not a folder"
            if existing == folder
            else f"{setting} {folder} cannot be created: {existing} is a file, not a folder"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
        why = "is on a read-only file system" if read_only else "is not writable by this user"
        said = (
            f"{setting} {folder} {why}"
            if existing == folder
            else f"{setting} {folder} cannot be created: {existing} {why}"
        )
        raise ConfigError(said + (f": {purpose}" if purpose else ""))


def _same(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except OSError:
        return False


def _la_codes(text: str) -> tuple[str, ...]:
    codes = tuple(code.strip() for code in text.split(",") if code.strip())
    bad = [code for code in codes if not is_la_code(code)]
    if bad or not codes:
        raise ConfigError(
            f"CSC_LA_CODES must be 3-digit DfE LA codes separated by commas, not {text!r}"
        )
    return codes
