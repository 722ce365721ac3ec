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
from aiosmtpd.smtp import AuthResult, LoginPassword

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


@dataclass
class Picky(Inbox):
    """An inbox that refuses some recipients at RCPT (as a relay refuses unknown users)."""

    refuse: frozenset[str] = frozenset()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def _only(login: str, password: str) -> Any:
    """An aiosmtpd authenticator that accepts one login and password, nothing else."""

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            login.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)

    return authenticate


@contextmanager
def mail_server(
    port: int | None = None,
    *,
    refuse: frozenset[str] = frozenset(),
    login: tuple[str, str] | None = None,
) -> Iterator[tuple[Inbox, int]]:
    """A running SMTP server on ``port`` (default a free one): (inbox, port).

    ``refuse``: recipients it rejects at RCPT; ``login``: the one (login,
    password) it accepts, demanding AUTH (over plain SMTP, as tests need).
    """
    inbox = Picky(refuse=refuse) if refuse else Inbox()
    chosen = port or free_port()
    options: dict[str, Any] = {}
    if login is not None:
        options = {
            "authenticator": _only(*login),
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(inbox, hostname="127.0.0.1", port=chosen, **options)
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
