"""The production stack (docker-compose.yml, Dockerfile, .env.example) agrees with the code.

The compose file is validated by Debian's ``docker-compose config``, which
needs no Docker engine (locally skipped without the command, a failure in CI);
every other test reads the files with PyYAML and checks them against
``etl`` (the settings it reads), ``requirements.lock`` (the pinned Airflow)
and each other (services, volumes, interpolated variables).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from dotenv import dotenv_values
from sqlalchemy.engine import make_url

from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_EXAMPLE = REPO / ".env.example"
LOCK = REPO / "requirements.lock"

#: Long-running Airflow services and the command each runs (Airflow's own compose file).
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
SERVICES = {*AIRFLOW_SERVICES, "airflow-init", "redis", "postgres", "warehouse", "mailpit"}

#: Settings without which the code falls back to the embedded defaults under
#: ``var/`` of the working directory, or cannot pseudonymise at all.
PRODUCTION_SETTINGS = {
    "CSC_VAR_DIR",
    "CSC_WAREHOUSE_URL",
    "CSC_LANDING_DIR",
    "CSC_REPORTS_DIR",
    "CSC_PSEUDONYM_KEY",
}
FOLDER_SETTINGS = {"CSC_VAR_DIR", "CSC_LANDING_DIR", "CSC_REPORTS_DIR"}

SETTING_NAME = re.compile(r"CSC_[A-Z][A-Z0-9_]*")
# ${VAR}, ${VAR:-default}, ${VAR:?message}; "$${...}" is an escaped shell variable.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}")
SECRET_WORDS = ("PASSWORD", "SECRET", "KEY")


# --- reading the files -------------------------------------------------------


def _compose_text() -> str:
    """Every key and value of the compose file, one a line (comments are not interpolated)."""

    def strings(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [
                text for key, value in node.items() for text in [*strings(key), *strings(value)]
            ]
        if isinstance(node, list):
            return [text for item in node for text in strings(item)]
        return [node] if isinstance(node, str) else []

    return "\n".join(strings(yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))))


def _compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _common() -> dict[str, Any]:
    common = _compose()["x-airflow-common"]
    assert isinstance(common, dict)
    return common


def _service(name: str) -> dict[str, Any]:
    service = _compose()["services"][name]
    assert isinstance(service, dict)
    return service


def _interpolations() -> list[tuple[str, str]]:
    """Every ``${VAR...}`` in the compose file as (name, operator and argument)."""
    return [(m.group(1), m.group(2) or "") for m in INTERPOLATION.finditer(_compose_text())]


def _env_example() -> dict[str, str]:
    values = dotenv_values(ENV_EXAMPLE)
    return {name: value or "" for name, value in values.items()}


def _settings_read_by_code() -> set[str]:
    """The CSC_* names etl looks up: ``env.get("CSC_…")``, ``getenv(…)``, ``environ[…]``."""
    names: set[str] = set()
    for path in sorted((REPO / "etl").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            key: ast.expr | None = None
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else None
                called = called or (func.id if isinstance(func, ast.Name) else None)
                if called in {"get", "getenv", "pop"}:
                    key = node.args[0]
            elif isinstance(node, ast.Subscript):
                key = node.slice
            if (
                isinstance(key, ast.Constant)
                and isinstance(key.value, str)
                and SETTING_NAME.fullmatch(key.value)
            ):
                names.add(key.value)
    return names


def _mount_target(volume: str | dict[str, Any]) -> str:
    """The container path of a short (``src:target[:mode]``) or long volume entry."""
    if isinstance(volume, dict):
        return str(volume["target"])
    parts = volume.split(":")
    if parts[-1] in {"ro", "rw", "z", "Z", "cached", "delegated", "consistent"}:
        parts = parts[:-1]
    return parts[-1]


def _mount_source(volume: str | dict[str, Any]) -> str:
    if isinstance(volume, dict):
        return str(volume.get("source", ""))
    return volume[: volume.rindex(":" + _mount_target(volume))]


def _url(value: str) -> Any:
    """A database URL from the compose file, its ``${…}`` replaced by a placeholder."""
    return make_url(INTERPOLATION.sub("placeholder", value))


# --- docker-compose config -----------------------------------------------------


def _docker_compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        message = "docker-compose is not installed (Debian: apt-get install docker-compose)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


def _env_file(tmp_path: Path, leave_out: str | None = None) -> Path:
    """.env.example with every empty (secret) value filled by a hex placeholder."""
    lines = []
    for name, value in _env_example().items():
        if name != leave_out:
            lines.append(f"{name}='{value or '0123456789abcdef' * 2}'")
    path = tmp_path / "test.env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _config(tmp_path: Path, env_file: Path) -> subprocess.CompletedProcess[str]:
    # A bare environment: the developer's own CSC_* or AIRFLOW_* must not leak in.
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    return subprocess.run(
        [_docker_compose(), "--env-file", str(env_file), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    result = _config(tmp_path, _env_file(tmp_path))
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) >= SERVICES
    # The JSON connection survives .env quoting and interpolation intact.
    connection = resolved["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_SMTP_DEFAULT"]
    assert json.loads(connection) == json.loads(_env_example()["SMTP_CONNECTION"])


@pytest.mark.parametrize(
    "name", sorted({name for name, operator in _interpolations() if operator.startswith(":?")})
)
def test_a_missing_required_variable_stops_compose_with_its_name(tmp_path: Path, name: str) -> None:
    result = _config(tmp_path, _env_file(tmp_path, leave_out=name))
    assert result.returncode != 0
    assert name in result.stderr


# --- services --------------------------------------------------------------------


def test_the_stack_has_every_service_of_airflows_celery_stack_and_ours() -> None:
    services = _compose()["services"]
    assert set(services) >= SERVICES
    for name, command in AIRFLOW_SERVICES.items():
        assert services[name]["command"] == command, name


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in _compose()["services"].items():
        if name != "airflow-init":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_airflow_services_start_after_init_and_init_after_the_databases() -> None:
    for name in AIRFLOW_SERVICES:
        depends = _service(name)["depends_on"]
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name
    for name in ("postgres", "redis", "warehouse"):
        assert _service("airflow-init")["depends_on"][name] == {"condition": "service_healthy"}


def test_workers_can_be_scaled() -> None:
    worker = _service("airflow-worker")
    assert "container_name" not in worker and "ports" not in worker


def test_airflow_runs_on_celery_with_redis_and_its_own_postgres() -> None:
    env = _common()["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "false"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://airflow-apiserver:8080/execution/"
    )
    assert "127.0.0.1:8080:8080" in _service("airflow-apiserver")["ports"]
    postgres = _service("postgres")["environment"]
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        url = _url(env[key].removeprefix("db+"))
        assert (url.host, url.database) == ("postgres", postgres["POSTGRES_DB"]), key
        assert url.username == postgres["POSTGRES_USER"], key
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:@redis:6379/")
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in _compose_text()


def test_the_warehouse_is_its_own_postgres_database() -> None:
    url = _url(_common()["environment"]["CSC_WAREHOUSE_URL"])
    warehouse = _service("warehouse")["environment"]
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port) == ("warehouse", 5432)
    assert (url.username, url.database) == (warehouse["POSTGRES_USER"], warehouse["POSTGRES_DB"])
    assert url.database != _service("postgres")["environment"]["POSTGRES_DB"]


def _pools_named_in_code() -> set[str]:
    """Pools the DAGs use: ``pool="…"`` arguments and ``…_POOL = "…"`` constants."""
    pools: set[str] = set()
    for folder in ("dags", "etl"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                value: ast.expr | None = None
                if isinstance(node, ast.keyword) and node.arg == "pool":
                    value = node.value
                elif isinstance(node, ast.Assign | ast.AnnAssign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    if any(isinstance(t, ast.Name) and t.id.endswith("POOL") for t in targets):
                        value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    pools.add(value.value)
    return pools


def test_init_migrates_both_databases_and_creates_the_pools() -> None:
    script = "\n".join(_service("airflow-init")["command"])
    assert "airflow db migrate" in script
    assert "csc-pipeline init" in script
    assert re.search(r"airflow pools set csc_warehouse 2 ", script)
    for pool in _pools_named_in_code():
        assert f"airflow pools set {pool} " in script, f"the DAGs use pool {pool}"


# --- the settings the code reads ----------------------------------------------


def test_the_production_settings_are_ones_the_code_reads() -> None:
    assert _settings_read_by_code() >= PRODUCTION_SETTINGS


def test_every_csc_setting_in_the_stack_is_read_by_the_code() -> None:
    read = _settings_read_by_code()
    in_compose = set(SETTING_NAME.findall(_compose_text()))
    in_env_example = {name for name in _env_example() if name.startswith("CSC_")}
    assert in_compose | in_env_example <= read


def test_every_airflow_container_gets_the_production_settings() -> None:
    common = _common()["environment"]
    assert set(common) >= PRODUCTION_SETTINGS
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        environment = _service(name)["environment"]
        for key, value in common.items():
            assert environment.get(key) == value, f"{name}: {key}"


def test_the_folders_are_volumes_mounted_where_the_settings_point() -> None:
    common = _common()
    targets = {_mount_target(volume): volume for volume in common["volumes"]}
    declared = set(_compose()["volumes"])
    for setting in FOLDER_SETTINGS:
        path = common["environment"][setting]
        assert path in targets, f"{setting}={path} is not a mount"
        source = _mount_source(targets[path])
        assert source.startswith(("${", ".", "/")) or source in declared, source
    # The landing folder is a host folder (or share), the others named volumes.
    assert _mount_source(targets[common["environment"]["CSC_LANDING_DIR"]]).startswith("${")
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        assert _service(name)["volumes"] == common["volumes"], name


def test_the_smtp_connection_is_json_pointing_at_mailpit() -> None:
    assert _common()["environment"]["AIRFLOW_CONN_SMTP_DEFAULT"].startswith("${SMTP_CONNECTION:?")
    connection = json.loads(_env_example()["SMTP_CONNECTION"])
    assert connection["conn_type"] == "smtp"
    assert connection["host"] == "mailpit" and connection["host"] in _compose()["services"]
    assert connection["port"] in _service("mailpit")["expose"]
    assert connection["extra"]["disable_tls"] is True
    assert connection["extra"]["disable_ssl"] is True


# --- .env.example ------------------------------------------------------------------


def test_env_example_names_every_interpolated_variable() -> None:
    interpolated = {name for name, _ in _interpolations()}
    assert set(_env_example()) == interpolated


def test_compose_interpolates_only_braced_variables() -> None:
    # A bare $NAME would be interpolated too; shell variables are written $${NAME}.
    assert not re.search(r"\$(?![{$])", _compose_text().replace("$$", ""))


def test_secrets_are_required_and_none_is_committed() -> None:
    example = _env_example()
    secrets = {name for name in example if any(word in name for word in SECRET_WORDS)}
    shared = {
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
    }
    assert shared <= secrets
    for name in shared:  # one value for every container, never one generated by each
        assert _common()["environment"][name].startswith(f"${{{name}:?")
    assert "CSC_PSEUDONYM_KEY" in secrets
    for name in secrets:
        assert example[name] == "", f".env.example gives {name} a value"
    for name, operator in _interpolations():
        if name in secrets:
            assert operator.startswith(":?"), f"${{{name}}} must fail loudly when unset"
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").split()


# --- the image --------------------------------------------------------------------


def test_the_image_is_the_official_airflow_pinned_in_the_lock() -> None:
    lock = LOCK.read_text(encoding="utf-8")
    airflow = re.search(r"^apache-airflow==(\S+)$", lock, re.MULTILINE)
    python = re.search(r"--python-version (\S+)", lock)
    assert airflow and python
    froms = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert froms == [f"apache/airflow:{airflow.group(1)}-python{python.group(1)}"]


def test_the_image_installs_the_lock_and_bakes_in_the_dags() -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^RUN uv pip install .*-r \S*requirements\.lock", dockerfile, re.M | re.S)
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in dockerfile
    project = re.search(r"^COPY\s+(?:--\S+\s+)*\.\s+(\S+)$", dockerfile, re.MULTILINE)
    dags = re.search(r"^ENV AIRFLOW__CORE__DAGS_FOLDER=(\S+)$", dockerfile, re.MULTILINE)
    assert project and dags
    assert dags.group(1) == f"{project.group(1)}/dags"
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    needed = {"etl", "dags", "expectations", "reports", "pyproject.toml", "README.md"}
    assert not ignored & (needed | {"requirements.lock"})
    # Nothing in compose mounts over the baked-in project.
    for volume in _common()["volumes"]:
        assert not _mount_target(volume).startswith(project.group(1)), volume


def test_the_image_has_chromium_for_the_packs_pdf() -> None:
    # etl/report/pdf.py prints the PDF copy with Debian's chromium, in Liberation Sans.
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    install = re.search(
        r"^RUN apt-get update .*?apt-get install (.*?)\\\n\s+&&", dockerfile, re.M | re.S
    )
    assert install, "no apt-get install in the Dockerfile"
    assert {"chromium", "fonts-liberation"} <= set(install.group(1).split())
