"""A real Airflow 3 on this machine: fresh PostgreSQL databases, its services, its REST API.

No Docker: the commands the services of ``docker-compose.yml`` run
(``airflow db migrate``, ``csc-pipeline init``, ``airflow pools set``, then
``airflow api-server``, ``scheduler``, ``dag-processor``, ``triggerer`` and,
on Celery, ``celery worker``) run here as subprocesses, each the leader of
its own process group with its output in a log file, against databases
created for the run and dropped afterwards.  Every port is a free one and the
Celery queue is private to the run, so two runs on one machine never meet.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from etl.orchestration.local import DAGS_FOLDER
from etl.orchestration.policy import WAREHOUSE_POOL
from etl.report.config import config_path
from tests.mailserver import MailServer, free_port

#: The project's virtual environment: the same airflow the DAGs are written for.
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("CSC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CSC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EXECUTOR = os.environ.get("CSC_E2E_EXECUTOR", "LocalExecutor")
ADMIN = "admin"
#: The variable naming one of several workers (read by tests/e2e/hostname.py).
WORKER_NAME = "CSC_E2E_WORKER_NAME"
#: Task states after which nothing more happens to a run.
FINISHED = {"success", "failed"}

T = TypeVar("T")


class StackError(AssertionError):
    """The stack did not come up or do its job: the message carries the evidence."""


def require_services(executor: str = EXECUTOR) -> None:
    """Skip (fail in CI) when the machine's PostgreSQL, or Redis for Celery, is not there."""
    problems = []
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        problems.append(f"PostgreSQL at {PG_URL} is not reachable: {exc.orig}")
    finally:
        engine.dispose()
    if executor == "CeleryExecutor":
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        except redis.RedisError as exc:
            problems.append(f"Redis at {REDIS_URL} is not reachable: {exc}")
    if problems:
        if os.environ.get("CI") == "true":
            pytest.fail("; ".join(problems))
        pytest.skip("; ".join(problems))


@contextmanager
def fresh_database(name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for the run; its URL. Dropped afterwards."""
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            # FORCE: a connection a killed process left behind must not keep it.
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@dataclass
class Service:
    """One long-running Airflow command, leader of its own process group."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    """A running Airflow: its environment, its services and a client of its REST API."""

    home: Path
    env: dict[str, str]
    base_url: str
    services: list[Service] = field(default_factory=list)
    client: httpx.Client | None = None
    timings: dict[str, float] = field(default_factory=dict)

    # -- commands -----------------------------------------------------------

    def run(self, name: str, *argv: str, timeout: float = 600) -> None:
        """Run a one-off command to completion; its output goes to ``services/{name}.log``."""
        log = self.home / "services" / f"{name}.log"
        with log.open("wb") as out:
            done = subprocess.run(
                argv,
                env=self.env,
                cwd=self.home,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if done.returncode != 0:
            text = log.read_text(encoding="utf-8", errors="replace")
            tail = "\n".join(text.splitlines()[-40:])
            raise StackError(f"`{' '.join(argv[:3])}` exited {done.returncode}:\n{tail}")

    def start(self, name: str, *argv: str, env: Mapping[str, str] | None = None) -> Service:
        """Start a long-running command in a process group of its own.

        ``env``: variables added to the stack's for this command alone.
        """
        log = self.home / "services" / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv,
                env={**self.env, **(env or {})},
                cwd=self.home,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name, process, log)
        self.services.append(service)
        return service

    def check_alive(self) -> None:
        dead = [s for s in self.services if not s.alive()]
        if dead:
            raise StackError(
                "\n\n".join(
                    f"{s.name} exited {s.process.returncode}; its log ends:\n{s.tail()}"
                    for s in dead
                )
            )

    def stop(self, grace: float = 20) -> None:
        """Stop every service and everything it started, by process id.

        SIGTERM to each service's process group first (a graceful shutdown);
        whatever is left after ``grace`` seconds, including task processes
        that moved to process groups of their own, is killed.
        """
        started: dict[int, psutil.Process] = {}

        def collect() -> None:
            for service in self.services:
                try:
                    root = psutil.Process(service.process.pid)
                    for process in [root, *root.children(recursive=True)]:
                        started.setdefault(process.pid, process)
                except psutil.NoSuchProcess:
                    pass

        collect()
        for service in self.services:
            if service.alive():
                with suppress(ProcessLookupError):
                    os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(s.alive() for s in self.services):
            collect()
            time.sleep(0.5)
        collect()
        _, left = psutil.wait_procs(list(started.values()), timeout=1)
        for process in left:
            with suppress(psutil.NoSuchProcess):
                process.kill()  # psutil checks it is still the process it saw
        psutil.wait_procs(left, timeout=5)
        for service in self.services:
            with suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=5)
        if self.client is not None:
            self.client.close()

    # -- waiting --------------------------------------------------------------

    def wait_for(
        self,
        what: str,
        probe: Callable[[], T | None],
        *,
        timeout: float,
        interval: float = 1.0,
        evidence: Callable[[], Any] | None = None,
    ) -> T:
        """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
        started = time.monotonic()
        while True:
            self.check_alive()
            try:
                result = probe()
            except httpx.TransportError:  # a busy API server: look again
                result = None
            if result:
                self.timings[what] = round(time.monotonic() - started, 1)
                return result
            if time.monotonic() - started > timeout:
                seen = evidence() if evidence else None
                raise StackError(f"gave up after {timeout:.0f} s waiting for {what}; saw {seen!r}")
            time.sleep(interval)

    # -- REST API ---------------------------------------------------------------

    def login(self, password: str) -> None:
        """A JWT from the simple auth manager, as the UI and any API client gets one."""
        reply = httpx.post(
            f"{self.base_url}/auth/token",
            json={"username": ADMIN, "password": password},
            timeout=30,
        )
        reply.raise_for_status()
        token = reply.json()["access_token"]
        self.client = httpx.Client(
            base_url=f"{self.base_url}/api/v2",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def get(self, path: str, **params: Any) -> Any:
        assert self.client is not None, "login() first"
        reply = self.client.get(path, params=params)
        if reply.status_code >= 400:
            raise StackError(f"GET {path} -> {reply.status_code}: {reply.text[:500]}")
        return reply.json()

    def patch(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._send("PATCH", path, body)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._send("POST", path, body)

    def _send(self, method: str, path: str, body: Mapping[str, Any]) -> Any:
        assert self.client is not None, "login() first"
        reply = self.client.request(method, path, json=dict(body))
        if reply.status_code >= 400:
            raise StackError(f"{method} {path} -> {reply.status_code}: {reply.text[:500]}")
        return reply.json()

    def health(self) -> dict[str, str]:
        """Each component's status from ``/api/v2/monitor/health`` (needs no login)."""
        try:
            reply = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
        except httpx.TransportError:
            return {}
        if reply.status_code != 200:
            return {}
        return {name: str(part.get("status")) for name, part in reply.json().items()}

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.get(f"/dags/{dag_id}/dagRuns", order_by="run_after")[
            "dag_runs"
        ]
        return runs

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        """``task_id`` (``task_id[i]`` when mapped) -> state, of one run."""
        instances = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        states = {}
        for ti in instances:
            key = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
            states[key] = str(ti["state"])
        return states

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        assert self.client is not None, "login() first"
        reply = self.client.get(path, params={"map_index": map_index, "deserialize": True})
        if reply.status_code == 404:
            return None
        if reply.status_code >= 400:
            raise StackError(f"GET {path} -> {reply.status_code}: {reply.text[:500]}")
        value = reply.json()["value"]
        return json.loads(value) if isinstance(value, str) else value

    def triggering_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents"
        )["asset_events"]
        return events

    # -- what went wrong ---------------------------------------------------------

    def failed_task_logs(self, dag_ids: list[str], lines: int = 25) -> str:
        """The end of the log of every failed task of ``dag_ids``, for a failure message."""
        parts = []
        for dag_id in dag_ids:
            try:
                runs = self.dag_runs(dag_id)
            except (StackError, httpx.HTTPError):
                continue
            for run in runs:
                states = self.task_states(dag_id, run["dag_run_id"])
                for key, state in states.items():
                    if state not in {"failed", "upstream_failed"}:
                        continue
                    task_id = key.split("[")[0]
                    folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run['dag_run_id']}"
                    for log in sorted(folder.glob(f"task_id={task_id}/**/*.log")):
                        text = log.read_text(encoding="utf-8", errors="replace").splitlines()
                        parts.append(
                            f"--- {log.relative_to(self.home)}\n" + "\n".join(text[-lines:])
                        )
                    parts.append(f"{dag_id} {run['dag_run_id']}: {key} {state}")
        return "\n".join(parts)


def environment(
    home: Path,
    *,
    metadata_url: str,
    warehouse_url: str,
    var_dir: Path,
    mail: MailServer,
    run_id: str,
    la_codes: str = "330",
    executor: str = EXECUTOR,
) -> tuple[dict[str, str], str]:
    """The environment of every Airflow process, and the admin's password.

    The variables are those docker-compose.yml sets (same names, local
    values), plus what makes a run quick: sensors look every few seconds.
    Nothing is inherited from the test process's own Airflow (tests/conftest.py).
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    password = secrets.token_urlsafe(16)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({ADMIN: password}), encoding="utf-8")
    from cryptography.fernet import Fernet

    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.lstrip("_").startswith(("AIRFLOW", "CSC_"))
    }
    env = {
        **inherited,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": executor,
        # LocalExecutor forks this many workers up front; the runs need few.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        # Airflow derives its async URL as postgresql+asyncpg, which the lock
        # does not install (the official image does); psycopg 3 does both.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url,
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        # Paused at creation: the test switches on the DAGs it runs (REST), so
        # the deadline DAG's catch-up run of last month does not join in.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # The log servers of the scheduler (LocalExecutor), worker and triggerer.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        # The DAG files do not change during the run: parse them once.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "0",
        "AIRFLOW__CSC_PIPELINE__SENSOR_POKE_SECONDS": "3",
        "AIRFLOW__CSC_PIPELINE__SENSOR_TIMEOUT_SECONDS": "900",
        "AIRFLOW__CSC_PIPELINE__RETRY_DELAY_SECONDS": "2",
        "AIRFLOW_CONN_SMTP_DEFAULT": mail.airflow_connection(),
        "CSC_VAR_DIR": str(var_dir),
        "CSC_WAREHOUSE_URL": warehouse_url,
        "CSC_LANDING_DIR": str(var_dir / "landing"),
        "CSC_REPORTS_DIR": str(var_dir / "reports"),
        "CSC_PSEUDONYM_KEY": secrets.token_hex(32),
        "CSC_LA_CODES": la_codes,
        # The embedded pack configuration, whatever a developer's .env says.
        "CSC_PACK_CONFIG": str(config_path({})),
    }
    if executor == "CeleryExecutor":
        queue = f"csc_e2e_{run_id}"
        env |= {
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url}",
            # A queue of the run's own: another run on the same Redis never
            # takes these tasks, nor this worker theirs.
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
        }
    return env, password


def forget_queue(queue: str) -> None:
    """Remove the run's queue and its binding from Redis (kombu leaves them behind)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.delete(queue, f"_kombu.binding.{queue}")
    finally:
        client.close()


def worker_environment(number: int) -> dict[str, str]:
    """What sets one of several Celery workers on this machine apart from the others.

    Its own log server port (two cannot share one), and the host name
    Airflow records on every task instance it runs (``hostname_callable``;
    the machine's own name would be the same for all of them).
    """
    root = Path(__file__).resolve().parents[2]
    return {
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.e2e.hostname.worker_hostname",
        WORKER_NAME: f"worker-{number}",
        "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p),
    }


@contextmanager
def running_airflow(
    tmp: Path,
    mail: MailServer,
    overrides: Mapping[str, str] | None = None,
    *,
    workers: int = 1,
    worker_concurrency: int | None = None,
    la_codes: str = "330",
    executor: str = EXECUTOR,
) -> Iterator[Stack]:
    """Databases, migrations, the pool and every service; all gone afterwards.

    ``overrides`` replace variables of :func:`environment` (a test's own
    pack configuration, a quicker scheduler sweep).  On Celery, ``workers``
    ``airflow celery worker`` processes take tasks from the run's one queue,
    each ``worker_concurrency`` at a time (default
    ``AIRFLOW__CELERY__WORKER_CONCURRENCY``); with more than one, each
    records its own host name (``worker-1``, ``worker-2``...) on the task
    instances it runs.  ``la_codes`` is ``CSC_LA_CODES``.
    """
    if workers != 1 and executor != "CeleryExecutor":
        raise ValueError(f"{workers} workers need the CeleryExecutor, not {executor}")
    run_id = uuid.uuid4().hex[:10]
    home = tmp / "airflow"
    (home / "services").mkdir(parents=True)
    with ExitStack() as cleanup:
        started = time.monotonic()
        metadata_url = cleanup.enter_context(fresh_database(f"csc_e2e_{run_id}_airflow"))
        warehouse_url = cleanup.enter_context(fresh_database(f"csc_e2e_{run_id}_warehouse"))
        env, password = environment(
            home,
            metadata_url=metadata_url,
            warehouse_url=warehouse_url,
            var_dir=tmp / "csc",
            mail=mail,
            run_id=run_id,
            la_codes=la_codes,
            executor=executor,
        )
        env |= dict(overrides or {})
        stack = Stack(home, env, f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}")
        if executor == "CeleryExecutor":
            cleanup.callback(forget_queue, env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"])
        cleanup.callback(stack.stop)
        airflow = str(BIN / "airflow")
        # What the compose file's airflow-init service runs, in its order.
        stack.run("db-migrate", airflow, "db", "migrate")
        stack.run("csc-pipeline-init", str(BIN / "csc-pipeline"), "init")
        stack.run(
            "pools-set", airflow, "pools", "set", WAREHOUSE_POOL, "2", "bounded warehouse loads"
        )
        stack.timings["init"] = round(time.monotonic() - started, 1)
        stack.start("api-server", airflow, "api-server", "--workers", "1")
        stack.start("scheduler", airflow, "scheduler")
        stack.start("dag-processor", airflow, "dag-processor")
        stack.start("triggerer", airflow, "triggerer")
        if executor == "CeleryExecutor":
            queue = env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
            concurrency = () if worker_concurrency is None else ("-c", str(worker_concurrency))
            for number in range(1, workers + 1):
                name = "celery-worker" if workers == 1 else f"celery-worker-{number}"
                stack.start(
                    name,
                    airflow,
                    "celery",
                    "worker",
                    "--queues",
                    queue,
                    "--celery-hostname",
                    f"{queue}@%h" if workers == 1 else f"{queue}-{number}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    *concurrency,
                    env=None if workers == 1 else worker_environment(number),
                )
        components = {"metadatabase", "scheduler", "triggerer", "dag_processor"}
        try:
            stack.wait_for(
                "every component healthy",
                lambda: (h := stack.health()) and all(h.get(c) == "healthy" for c in components),
                timeout=240,
                evidence=stack.health,
            )
        except StackError as failure:
            logs = "\n\n".join(f"== {s.name}\n{s.tail(15)}" for s in stack.services)
            raise StackError(f"{failure}\n\n{logs}") from None
        stack.login(password)
        yield stack
