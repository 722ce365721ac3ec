"""E-mail to the data engineers: rejected files, failed tasks, missed deadlines.

Sent with the smtp provider's ``SmtpNotifier`` through the ``smtp_default``
connection; when no such connection exists (the embedded demo, a laptop)
the message is written as an ``.eml`` file to the outbox instead, so no
alert is ever silently dropped.  Alerts carry rules, columns, row numbers
and counts (as the data-quality report does), never a value from a file.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from etl.settings import Settings, load_settings

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"


class FileRejected(AirflowFailException):
    """A landed file failed validation: quarantined, engineers told, never retried.

    An ``AirflowFailException``: Airflow fails the task at once, whatever its
    retries, because the same file will fail the same way.
    """


class SignOffMissed(AirflowFailException):
    """Nobody answered a pack's sign-off request in time: engineers told, nothing sent.

    Failed at once, never retried (a retry would ask again, unannounced); the
    engineers have had their own alert, so :func:`notify_failure` adds none.
    """


def smtp_connection(conn_id: str = SMTP_CONN_ID) -> Any | None:
    """The Airflow connection, or None when none is configured (use the outbox)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def send_to_engineers(
    subject: str,
    lines: Sequence[str],
    context: Any,
    *,
    settings: Settings | None = None,
) -> str:
    """Send one alert to the pack configuration's ``data_engineers``.

    Returns where it went ("smtp" or the .eml path).
    """
    from etl.report.config import load_pack_config

    settings = settings or load_settings()
    config = load_pack_config()
    body = "\n".join(lines)
    connection = smtp_connection()
    if connection is not None:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        # notify(), not __call__: our text is not a Jinja template and a file
        # name with braces in it must arrive as written.
        SmtpNotifier(
            to=list(config.data_engineers),
            from_email=connection.extra_dejson.get("from_email") or config.sender,
            subject=subject,
            html_content=f"<pre>{html.escape(body)}</pre>",
            mime_subtype="alternative",
        ).notify(context)
        log.info("alert sent to the data engineers: %s", subject)
        return "smtp"
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = config.sender
    message["To"] = ", ".join(config.data_engineers)
    message.set_content(body)
    from etl.report.delivery import send_message

    where = send_message(message, None, settings.outbox_dir)
    log.warning("no %s connection: alert written to %s", SMTP_CONN_ID, where)
    return where


def rejection_lines(result: Any) -> list[str]:
    """The alert for a rejected file: what failed, where the report is."""
    lines = [
        f"{result.file} was rejected: nothing from it was loaded, and the data already "
        "in the warehouse is unchanged.",
        "",
        "Problems (rule, column, rows):",
    ]
    lines += [f"  - {problem.describe()}" for problem in result.errors]
    lines += [
        "",
        f"The file and its data-quality report are in quarantine: {result.report}",
        "Fix the file at source and land it again; the DAG run can then be cleared.",
    ]
    return lines


def notify_failure(context: Any) -> None:
    """``on_failure_callback`` of every task: tell the engineers what broke.

    A rejected file, or a sign-off nobody gave in time, has had its own alert;
    a second, vaguer one would only be noise.
    """
    exception = context.get("exception")
    if isinstance(exception, FileRejected | SignOffMissed):
        return
    ti = context.get("ti")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", "?")
    lines = [
        f"Task {task_id} of {dag_id} failed (run {run_id}, try {getattr(ti, 'try_number', '?')}).",
        f"Error: {type(exception).__name__}: {exception}" if exception else "No error recorded.",
        "",
        "Transient faults (database, mail server) are retried before this alert; "
        "see the task log in Airflow for the details.",
    ]
    try:
        send_to_engineers(f"csc-pipeline: {dag_id}.{task_id} failed", lines, context)
    except Exception:  # an alert must never mask the failure it reports
        log.exception("could not send the failure alert for %s.%s", dag_id, task_id)
