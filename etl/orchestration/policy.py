"""How DAGs behave on failure: who owns them, what is retried, how long to wait.

Only transient faults are retried (a database or mail server that is down
or busy); a data rejection fails at once (:class:`FileRejected` is an
``AirflowFailException``) and a bug fails at once too, since a retry would
only repeat it.  Every failure e-mails the data engineers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import conf
from airflow.sdk.definitions.retry_policy import ExceptionRetryPolicy, RetryAction, RetryRule

from etl.orchestration.alerts import notify_failure

OWNER = "csc-data-engineering"

#: Settings of the DAGs' shape, read from Airflow's own configuration (section
#: ``[csc_pipeline]``, or ``AIRFLOW__CSC_PIPELINE__*``): safe at parse time,
#: unlike Variables or the database.
SECTION = "csc_pipeline"

#: Faults worth another try: the database or the mail server was unreachable.
TRANSIENT = [
    "sqlalchemy.exc.OperationalError",
    "sqlalchemy.exc.InterfaceError",
    "etl.errors.MailUnavailable",
    "smtplib.SMTPServerDisconnected",
    "smtplib.SMTPConnectError",
    "builtins.ConnectionError",
    "builtins.TimeoutError",
]

TRANSIENT_ONLY = ExceptionRetryPolicy(
    rules=[RetryRule(exception=list(TRANSIENT), action=RetryAction.RETRY)],
    default=RetryAction.FAIL,
)


def setting(name: str, fallback: str) -> str:
    return str(conf.get(SECTION, name, fallback=fallback))


def default_args() -> dict[str, Any]:
    """Every task's defaults: owner, transient-only retries with backoff, alerts."""
    return {
        "owner": OWNER,
        "retries": int(setting("retries", "3")),
        "retry_delay": timedelta(seconds=int(setting("retry_delay_seconds", "120"))),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
        "retry_policy": TRANSIENT_ONLY,
        "on_failure_callback": [notify_failure],
    }


#: The pool that bounds concurrent warehouse writes (created by the init service).
WAREHOUSE_POOL = "csc_warehouse"
