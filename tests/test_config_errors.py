"""Bad configuration through the real command line: one sentence, exit 2, nothing half-written.

Each case sets one setting wrong for real (a key too short, a port nothing
listens on, a landing folder on a read-only mount, an archive on a full
tmpfs, a mail server that refuses a login or an address) and runs the
command a data engineer would type.  Every case asserts the exact sentence
on stderr, exit status 2, no traceback anywhere, and that no file changed:
the warehouse, the landed files, the archive, the reports and the outbox
are byte for byte as before (GX's scratch project under ``var/gx`` aside).

Most cases run ``etl.cli.main`` in this process (a new process costs
seconds of imports each); one case per command also runs the installed
console script in a process of its own.  PostgreSQL and the tmpfs mounts
are real: without them a case is skipped locally and fails in CI.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from etl import cli
from etl.report.yamlfile import packaged
from etl.warehouse.db import make_engine, upgrade
from tests.conftest import VALID_ROWS, write_rows
from tests.mailserver import Inbox, free_port, mail_server
from tests.report.pack_month import load_small_warehouse
from tests.warehouse.conftest import PG_URL, postgres_or_skip

# aiosmtpd's warning for AUTH without TLS: the login case is plain SMTP on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SCRIPT = Path(sys.executable).with_name("csc-pipeline")
KEY = "0123456789abcdef0123456789abcdef"
LANDED = "workforce_330_2024-02.csv"
SETTINGS = (
    "CSC_VAR_DIR",
    "CSC_WAREHOUSE_URL",
    "CSC_LANDING_DIR",
    "CSC_REPORTS_DIR",
    "CSC_PSEUDONYM_KEY",
    "CSC_LA_CODES",
    "CSC_PACK_CONFIG",
    "AIRFLOW_CONN_SMTP_DEFAULT",
)
URL_FORMS = "postgresql+psycopg://user@host:5432/warehouse or sqlite:///var/warehouse.db"
NO_TABLES = "(CSC_WAREHOUSE_URL) has no tables yet: run `csc-pipeline init` first"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded warehouse holding the hand-made month (LA 330, 2024-03)."""
    path = tmp_path_factory.mktemp("template") / "warehouse.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    load_small_warehouse(engine)
    engine.dispose()
    return path


@dataclass
class Setup:
    """One case's folder: var/ with the warehouse, a landed file, and its settings."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    stack: ExitStack = field(default_factory=ExitStack)
    #: The mail server of the case, when it has one.
    inbox: Inbox | None = None

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def landing(self) -> Path:
        return self.var / "landing"

    @property
    def landed(self) -> Path:
        return self.landing / LANDED

    def land(self) -> Path:
        self.landing.mkdir(parents=True, exist_ok=True)
        return write_rows(self.landed, "workforce", [VALID_ROWS["workforce"]])

    def pack_config(self, change: Callable[[dict[str, object]], None]) -> Path:
        data = yaml.safe_load(packaged("pack.yml").read_text(encoding="utf-8"))
        change(data)
        path = self.root / "pack.yml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        self.env["CSC_PACK_CONFIG"] = str(path)
        return path

    def smtp(self, port: int, login: tuple[str, str] | None = None) -> None:
        connection: dict[str, object] = {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 5, "retry_limit": 0},
        }
        if login:
            connection.update(login=login[0], password=login[1])
        self.env["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(connection)


# --- real faults ----------------------------------------------------------------------


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        message = f"cannot mount a tmpfs (root with CAP_SYS_ADMIN needed): {done.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A real, small tmpfs mounted on ``folder`` for the block."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> None:
    """Write into ``folder`` until its file system is full (ENOSPC for real)."""
    with (folder / "filler").open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass


@contextmanager
def empty_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (no warehouse schema); its URL."""
    postgres_or_skip()
    name = f"csc_trust_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
        probe = sa.create_engine(url)
        with probe.connect() as connection:
            tables = connection.execute(
                sa.text(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            ).scalar_one()
        probe.dispose()
        assert tables == 0, "a command created tables in a database it was not to touch"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# --- the cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    #: Prepares the folder; returns the exact sentence expected after "csc-pipeline: ".
    arrange: Callable[[Setup], str]
    #: Also run as a process of its own (one case per command).
    process: bool = False


def _key_missing(s: Setup) -> str:
    s.land()
    return (
        "CSC_PSEUDONYM_KEY is not set: identifiers cannot be pseudonymised without the "
        "deployment's secret key"
    )


def _key_short(s: Setup) -> str:
    s.land()
    s.env["CSC_PSEUDONYM_KEY"] = "too-short"
    return (
        "CSC_PSEUDONYM_KEY is 9 bytes long but must be at least 16 "
        "(generate one with `openssl rand -hex 32`)"
    )


def _url_malformed(s: Setup) -> str:
    s.env["CSC_WAREHOUSE_URL"] = "not-a-url"
    return f"CSC_WAREHOUSE_URL is not a database URL: write it as {URL_FORMS}"


def _url_other_database(s: Setup) -> str:
    s.env["CSC_WAREHOUSE_URL"] = "mysql://csc:s3cret@127.0.0.1/warehouse"
    return (
        "CSC_WAREHOUSE_URL names a 'mysql' database, but the warehouse is PostgreSQL or "
        f"SQLite: write it as {URL_FORMS}"
    )


def _url_unreachable(s: Setup) -> str:
    s.env["CSC_WAREHOUSE_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/x"
    return (
        "cannot reach the warehouse at postgresql+psycopg://postgres@127.0.0.1:1/x "
        '(CSC_WAREHOUSE_URL): connection failed: connection to server at "127.0.0.1", '
        "port 1 failed: Connection refused"
    )


def _url_no_such_database(s: Setup) -> str:
    postgres_or_skip()
    s.land()
    s.env["CSC_PSEUDONYM_KEY"] = KEY
    url = sa.make_url(PG_URL).set(database="csc_no_such_database")
    s.env["CSC_WAREHOUSE_URL"] = url.render_as_string(hide_password=False)
    where = url.render_as_string(hide_password=True)
    port = url.port or 5432
    return (
        f"cannot reach the warehouse at {where} (CSC_WAREHOUSE_URL): connection failed: "
        f'connection to server at "{url.host}", port {port} failed: FATAL:  database '
        '"csc_no_such_database" does not exist'
    )


def _ingest_postgres_without_schema(s: Setup) -> str:
    s.land()
    s.env["CSC_PSEUDONYM_KEY"] = KEY
    url = s.stack.enter_context(empty_postgres_database())
    s.env["CSC_WAREHOUSE_URL"] = url
    return f"the warehouse at {sa.make_url(url).render_as_string()} {NO_TABLES}"


def _report_postgres_without_schema(s: Setup) -> str:
    url = s.stack.enter_context(empty_postgres_database())
    s.env["CSC_WAREHOUSE_URL"] = url
    return f"the warehouse at {sa.make_url(url).render_as_string()} {NO_TABLES}"


def _alembic_head() -> str:
    """The head revision as Alembic itself reads the migrations."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from etl.warehouse.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _ingest_sqlite_old_schema(s: Setup) -> str:
    """A warehouse an upgrade did not re-initialise: migrated only to 0004."""
    s.land()
    s.env["CSC_PSEUDONYM_KEY"] = KEY
    old = s.root / "old.db"
    engine = make_engine(f"sqlite:///{old}")
    upgrade(engine, "0004")
    engine.dispose()
    s.env["CSC_WAREHOUSE_URL"] = f"sqlite:///{old}"
    return (
        f"the warehouse at sqlite:///{old} (CSC_WAREHOUSE_URL) is at schema revision 0004 "
        f"and this csc-pipeline needs {_alembic_head()}: run `csc-pipeline init` to upgrade it"
    )


def _report_sqlite_newer_schema(s: Setup) -> str:
    """A warehouse a newer release has already migrated further."""
    newer = s.var / "warehouse.db"
    engine = make_engine(f"sqlite:///{newer}")
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    return (
        f"the warehouse at sqlite:///{newer} (CSC_WAREHOUSE_URL) was upgraded by a newer "
        f"csc-pipeline (schema revision 9999; this one knows up to {_alembic_head()}): "
        "install that version"
    )


def _report_sqlite_never_created(s: Setup) -> str:
    missing = s.root / "elsewhere.db"  # asserted not created: no file may appear
    s.env["CSC_WAREHOUSE_URL"] = f"sqlite:///{missing}"
    return f"the warehouse at sqlite:///{missing} {NO_TABLES}"


def _ingest_sqlite_empty_file(s: Setup) -> str:
    s.land()
    s.env["CSC_PSEUDONYM_KEY"] = KEY
    empty = s.root / "empty.db"
    empty.write_bytes(b"")
    s.env["CSC_WAREHOUSE_URL"] = f"sqlite:///{empty}"
    return f"the warehouse at sqlite:///{empty} {NO_TABLES}"


def _landing_missing(s: Setup) -> str:
    s.env["CSC_PSEUDONYM_KEY"] = KEY
    s.env["CSC_LANDING_DIR"] = str(s.root / "share")  # a share that is not mounted
    return (
        f"CSC_LANDING_DIR {s.root / 'share'} does not exist or is not a folder: extracts "
        "cannot land there (run `csc-pipeline init`, or mount the share)"
    )


def _typo_elsewhere(s: Setup) -> str:
    """Not the landing folder's fault: the file named is simply not there."""
    s.env["CSC_PSEUDONYM_KEY"] = KEY
    s.env["CSC_LANDING_DIR"] = str(s.root / "share")
    return f"no such file: downloads/{LANDED}"


def _landing_under_a_file(s: Setup) -> str:
    (s.root / "mnt").write_text("not a folder", encoding="utf-8")
    s.env["CSC_LANDING_DIR"] = str(s.root / "mnt" / "landing")
    return (
        f"CSC_LANDING_DIR {s.root / 'mnt' / 'landing'} cannot be created: "
        f"{s.root / 'mnt'} is a file, not a folder"
    )


def _landing_read_only(s: Setup) -> str:
    s.stack.enter_context(tmpfs(s.landing, "1m"))
    s.land()
    _mount("-o", "remount,ro", str(s.landing))
    s.env["CSC_PSEUDONYM_KEY"] = KEY
    return (
        f"CSC_LANDING_DIR {s.landing} is on a read-only file system: "
        "ingested files are moved out of it"
    )


def _archive_full(s: Setup) -> str:
    s.land()
    s.env["CSC_PSEUDONYM_KEY"] = KEY
    fill(s.stack.enter_context(tmpfs(s.var / "archive", "64k")))
    return (
        f"cannot archive {LANDED} into {s.var / 'archive'} (CSC_VAR_DIR): No space left on "
        "device; nothing was loaded and the file is still in var/landing"  # as typed
    )


def _pack_wrong(change: Callable[[dict[str, object]], None], said: str) -> Callable[[Setup], str]:
    def arrange(s: Setup) -> str:
        path = s.pack_config(change)
        return f"CSC_PACK_CONFIG file {path} is wrong: {said}"

    return arrange


def _unknown_key(data: dict[str, object]) -> None:
    data["colour"] = "blue"


def _rate_as_percent(data: dict[str, object]) -> None:
    data["targets"] = {
        "vacancy_rate": {
            "better": "lower",
            "amber_within": 0.03,
            "milestones": [{"by_plan_month": 6, "target": 25}],
        }
    }


def _no_audience(data: dict[str, object]) -> None:
    data["audiences"] = []


def _outsider(data: dict[str, object]) -> None:
    audiences = data["audiences"]
    assert isinstance(audiences, list)
    audiences[1]["recipients"].append("board@gmail.com")


def _smtp_unreachable(s: Setup) -> str:
    port = free_port()
    s.smtp(port)
    return (
        f"cannot reach the mail server at smtp://127.0.0.1:{port} (AIRFLOW_CONN_SMTP_DEFAULT): "
        "Connection refused"
    )


def _smtp_login_refused(s: Setup) -> str:
    s.inbox, port = s.stack.enter_context(mail_server(login=("csc", "right")))
    s.smtp(port, login=("csc", "wrong"))
    return (
        f"the mail server at smtp://127.0.0.1:{port} (AIRFLOW_CONN_SMTP_DEFAULT) refused the "
        "login for csc: 535 5.7.8 Authentication credentials invalid"
    )


def _smtp_recipient_refused(s: Setup) -> str:
    # The commissioner's second address: neither audience may get the pack.
    s.inbox, port = s.stack.enter_context(mail_server(refuse=frozenset({"dcs@example.gov.uk"})))
    s.smtp(port)
    return (
        f"the mail server at smtp://127.0.0.1:{port} (AIRFLOW_CONN_SMTP_DEFAULT) refused "
        "dcs@example.gov.uk (550 5.1.1 No such user here); nothing was sent to anyone"
    )


def _smtp_not_json(s: Setup) -> str:
    s.env["AIRFLOW_CONN_SMTP_DEFAULT"] = '{"host": "mail.example.gov.uk",'
    return (
        "AIRFLOW_CONN_SMTP_DEFAULT: the SMTP connection is not valid JSON: "
        "Expecting property name enclosed in double quotes"
    )


def _outsider_with_a_server(s: Setup) -> str:
    s.inbox, port = s.stack.enter_context(mail_server())
    s.smtp(port)
    return _pack_wrong(
        _outsider,
        "audience partnership sends to board@gmail.com, outside approved_domains (example.gov.uk)",
    )(s)


INGEST = ("ingest", f"var/landing/{LANDED}")
SEND = ("report", "--la", "330", "--month", "2024-03", "--send")
CASES = {
    "key missing": Case(INGEST, _key_missing),
    "key too short": Case(INGEST, _key_short, process=True),
    "warehouse URL malformed": Case(("init",), _url_malformed, process=True),
    "warehouse URL of another database": Case(("init",), _url_other_database),
    "warehouse unreachable": Case(("init",), _url_unreachable),
    "warehouse database missing": Case(INGEST, _url_no_such_database),
    "warehouse without schema (PostgreSQL, ingest)": Case(INGEST, _ingest_postgres_without_schema),
    "warehouse without schema (PostgreSQL, report)": Case(SEND, _report_postgres_without_schema),
    "warehouse never created (SQLite, report)": Case(SEND, _report_sqlite_never_created),
    "warehouse without schema (SQLite, ingest)": Case(INGEST, _ingest_sqlite_empty_file),
    "warehouse at an older schema (SQLite, ingest)": Case(INGEST, _ingest_sqlite_old_schema),
    "warehouse at a newer schema (SQLite, report)": Case(SEND, _report_sqlite_newer_schema),
    "landing folder missing": Case(("ingest", f"share/{LANDED}"), _landing_missing),
    "landing folder missing, file elsewhere": Case(
        ("ingest", f"downloads/{LANDED}"), _typo_elsewhere
    ),
    "landing folder under a file": Case(("init",), _landing_under_a_file),
    "landing folder read-only": Case(INGEST, _landing_read_only),
    "archive disk full": Case(INGEST, _archive_full),
    "pack configuration unknown key": Case(
        SEND, _pack_wrong(_unknown_key, "colour: unknown key"), process=True
    ),
    "pack configuration bad target": Case(
        SEND,
        _pack_wrong(
            _rate_as_percent,
            "targets.vacancy_rate: a rate is a fraction from 0 to 1 (25% is 0.25), not 25.0",
        ),
    ),
    "pack configuration no audience": Case(
        SEND, _pack_wrong(_no_audience, "audiences: must list at least 1, not 0")
    ),
    "pack recipient outside approved domains": Case(SEND, _outsider_with_a_server, process=True),
    "SMTP connection not JSON": Case(SEND, _smtp_not_json),
    "SMTP unreachable": Case(SEND, _smtp_unreachable),
    "SMTP login refused": Case(SEND, _smtp_login_refused),
    "SMTP recipient refused": Case(SEND, _smtp_recipient_refused),
}


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its digest (GX's scratch working project aside)."""
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[:2] != ("var", "gx"):
            files[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


@pytest.fixture
def setup(tmp_path: Path, template: Path) -> Iterator[Setup]:
    case = Setup(tmp_path)
    case.var.mkdir()
    shutil.copyfile(template, case.var / "warehouse.db")
    case.env["CSC_VAR_DIR"] = str(case.var)
    with case.stack:
        yield case


def _in_process(
    setup: Setup, args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    monkeypatch.chdir(setup.root)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in setup.env.items():
        monkeypatch.setenv(name, value)
    stdout, stderr = _Capture(), _Capture()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    code = cli.main(list(args))
    return code, stdout.getvalue(), stderr.getvalue()


class _Capture:
    """A text stream the command's consoles write to (what the person would see)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def getvalue(self) -> str:
        return "".join(self.parts)


def _in_a_process(setup: Setup, args: tuple[str, ...]) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    done = subprocess.run(
        [str(SCRIPT), *args],
        cwd=setup.root,
        env={**env, **setup.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("name", "in_process"),
    [(name, True) for name in CASES] + [(n, False) for n, c in CASES.items() if c.process],
    ids=lambda value: value if isinstance(value, str) else ("main" if value else "process"),
)
def test_bad_configuration_is_one_sentence_and_changes_nothing(
    setup: Setup, name: str, in_process: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    expected = case.arrange(setup)
    before = snapshot(setup.root)
    if in_process:
        code, out, err = _in_process(setup, case.args, monkeypatch)
    else:
        code, out, err = _in_a_process(setup, case.args)
    assert "Traceback" not in out + err
    assert err.splitlines() == [f"csc-pipeline: {expected}"], out
    assert code == 2
    assert snapshot(setup.root) == before  # warehouse, landed file, archive, reports, outbox
    if setup.inbox is not None:
        assert setup.inbox.messages == []


def test_a_landing_folder_that_is_not_there_fails_the_sensor_at_once(tmp_path: Path) -> None:
    """The DAG's wait: a share not mounted is a fault now, not a week of waiting."""
    from etl.errors import ConfigError
    from etl.orchestration.tasks import find_landed
    from etl.settings import load_settings

    settings = load_settings({"CSC_VAR_DIR": str(tmp_path / "var")})
    with pytest.raises(ConfigError) as caught:
        find_landed("workforce", "330", "2024-02", settings)
    assert str(caught.value) == (
        f"CSC_LANDING_DIR {tmp_path / 'var' / 'landing'} does not exist or is not a folder: "
        "extracts cannot land there (run `csc-pipeline init`, or mount the share)"
    )
    settings.landing_dir.mkdir(parents=True)
    assert find_landed("workforce", "330", "2024-02", settings) is None
    landed = write_rows(settings.landing_dir / LANDED, "workforce", [VALID_ROWS["workforce"]])
    assert find_landed("workforce", "330", "2024-02", settings) == str(landed)
