"""A real SMTP server in the test process (aiosmtpd), collecting what it receives."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class MailServer:
    """What the server received: each message parsed, with its envelope recipients."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"

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
    server = MailServer(free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
