"""A real SMTP server in the test process (aiosmtpd), and ports nothing listens on."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from etl.report.delivery import SmtpSettings


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        if not isinstance(parsed, EmailMessage):  # pragma: no cover - policy.default gives one
            raise TypeError("not an EmailMessage")
        return parsed


@dataclass
class Inbox:
    """aiosmtpd handler keeping every message it is given."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A local port nothing listens on (until someone binds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def plain_smtp(port: int) -> SmtpSettings:
    """Settings for a local server without TLS or login, failing fast."""
    return SmtpSettings(host="127.0.0.1", port=port, starttls=False, ssl=False, timeout=5)


@contextmanager
def mail_server(port: int | None = None) -> Iterator[tuple[Inbox, int]]:
    """A running SMTP server on ``port`` (default a free one): (inbox, port)."""
    inbox = Inbox()
    chosen = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=chosen)
    controller.start()
    try:
        yield inbox, chosen
    finally:
        controller.stop()


@dataclass
class MailServer:
    """A running server as the Airflow tests use it: parsed messages and a connection."""

    inbox: Inbox
    port: int

    @property
    def messages(self) -> list[EmailMessage]:
        return [received.message for received in self.inbox.messages]

    @property
    def recipients(self) -> list[list[str]]:
        return [received.rcpt_tos for received in self.inbox.messages]

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def airflow_connection(self) -> str:
        """``AIRFLOW_CONN_SMTP_DEFAULT`` (JSON form) pointing at this server."""
        return json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": self.port,
                "extra": {
                    "disable_tls": True,
                    "disable_ssl": True,
                    "from_email": "csc-pipeline@example.gov.uk",
                    "timeout": 10,
                    "retry_limit": 0,
                },
            }
        )


@contextmanager
def running_mail_server() -> Iterator[MailServer]:
    with mail_server() as (inbox, port):
        yield MailServer(inbox, port)
