"""How an e-mail goes: SMTP as the Airflow connection ``smtp_default`` says, or the outbox.

:class:`SmtpSettings` reads a connection the way the
``apache-airflow-providers-smtp`` provider does (``disable_ssl``,
``disable_tls``, ``from_email``, ``timeout``, ``retry_limit`` in its extra),
from an Airflow ``Connection`` object, the JSON form of
``AIRFLOW_CONN_SMTP_DEFAULT`` or its URI form, without importing Airflow, so
the command line sends the way the DAGs do.  Unlike the provider, a boolean
extra written ``"false"`` (as a URI must) means false.

:func:`send_message` sends one message.  No SMTP settings means no mail
server: the message is written as an ``.eml`` file to the outbox, so nothing
is silently dropped.  Faults are two exceptions: :class:`MailUnavailable`
(the server is down, slow or says "try later": worth retrying; Airflow's
retry policy names it) and :class:`MailRefused` (the server said no: wrong
login, refused addresses; retrying would only repeat it).
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from etl.errors import ConfigError, CscError, MailUnavailable

log = logging.getLogger(__name__)

#: The environment variable Airflow reads the ``smtp_default`` connection from.
CONNECTION_ENV = "AIRFLOW_CONN_SMTP_DEFAULT"

T = TypeVar("T")


class MailRefused(CscError):
    """The mail server refused the login, the sender or every recipient: do not retry."""


class ConnectionLike(Protocol):
    """What :meth:`SmtpSettings.from_airflow_connection` reads of an Airflow Connection."""

    host: str | None
    port: int | None
    login: str | None
    password: str | None


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to hand mail over (never printed with the password)."""

    host: str
    port: int
    login: str | None = None
    password: str | None = None
    #: Upgrade a plain connection with STARTTLS (ignored when ``ssl``).
    starttls: bool = True
    #: Implicit TLS from the first byte (SMTPS, usually port 465).
    ssl: bool = False
    timeout: float = 30.0
    #: ``from_email`` of the connection; None: the pack configuration's sender.
    from_address: str | None = None
    #: How often the command line tries a send (``retry_limit`` extra + 1).
    attempts: int = 3
    #: Where these settings came from, named in every error so it can be corrected.
    source: str = "the smtp_default connection"

    def __repr__(self) -> str:
        # Dataclass repr would print the password into logs and tracebacks.
        return f"SmtpSettings({self.where}, login={self.login!r}, ssl={self.ssl})"

    @property
    def where(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @classmethod
    def from_airflow_connection(cls, connection: ConnectionLike) -> SmtpSettings:
        """From an Airflow ``Connection`` (or anything with its attributes)."""
        extra = getattr(connection, "extra_dejson", None)
        if extra is None:
            extra = _extra_dict(getattr(connection, "extra", None))
        return cls._build(
            connection.host, connection.port, connection.login, connection.password, extra
        )

    @classmethod
    def from_airflow_connection_json(cls, text: str) -> SmtpSettings:
        """From the JSON form of an Airflow connection (``AIRFLOW_CONN_*``)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"the SMTP connection is not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ConfigError("the SMTP connection JSON must be an object")
        port = data.get("port")
        return cls._build(
            data.get("host"),
            int(port) if port not in (None, "") else None,
            data.get("login"),
            data.get("password"),
            _extra_dict(data.get("extra")),
        )

    @classmethod
    def from_airflow_connection_uri(cls, text: str) -> SmtpSettings:
        """From the URI form: ``smtp://login:password@host:port?disable_tls=true``."""
        parts = urlsplit(text)
        extra: dict[str, Any] = dict(parse_qsl(parts.query))
        if "__extra__" in extra:
            extra = _extra_dict(extra.pop("__extra__"))
        try:
            port = parts.port
        except ValueError:
            raise ConfigError("the SMTP connection URI has an invalid port") from None
        return cls._build(
            unquote(parts.hostname or ""),
            port,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
            extra,
        )

    @classmethod
    def _build(
        cls,
        host: str | None,
        port: int | None,
        login: str | None,
        password: str | None,
        extra: Mapping[str, Any],
    ) -> SmtpSettings:
        if not host:
            raise ConfigError("the SMTP connection has no host")
        # The provider's defaults: SSL and STARTTLS on unless disabled.
        use_ssl = not _flag(extra, "disable_ssl")
        starttls = not _flag(extra, "disable_tls") and not use_ssl
        default_port = 465 if use_ssl else 587 if starttls else 25
        try:
            timeout = float(extra.get("timeout", 30))
            retries = int(extra.get("retry_limit", 2))
        except (TypeError, ValueError):
            raise ConfigError(
                "the SMTP connection's timeout and retry_limit must be numbers"
            ) from None
        return cls(
            host=host,
            port=int(port) if port else default_port,
            login=login or None,
            password=password or None,
            starttls=starttls,
            ssl=use_ssl,
            timeout=timeout,
            from_address=extra.get("from_email") or None,
            attempts=max(1, retries + 1),
        )


def _extra_dict(extra: Any) -> dict[str, Any]:
    if extra in (None, ""):
        return {}
    if isinstance(extra, dict):
        return extra
    try:
        parsed = json.loads(extra)
    except (TypeError, json.JSONDecodeError):
        raise ConfigError("the SMTP connection's extra is not a JSON object") from None
    if not isinstance(parsed, dict):
        raise ConfigError("the SMTP connection's extra is not a JSON object")
    return parsed


def _flag(extra: Mapping[str, Any], name: str) -> bool:
    value = extra.get(name, False)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ConfigError(f"the SMTP connection's {name} must be true or false, not {value!r}")


def smtp_from_environment(env: Mapping[str, str] | None = None) -> SmtpSettings | None:
    """``AIRFLOW_CONN_SMTP_DEFAULT`` (JSON or URI) as settings; None when unset (outbox)."""
    env = os.environ if env is None else env
    text = (env.get(CONNECTION_ENV) or "").strip()
    if not text:
        return None
    try:
        if text.startswith("{"):
            settings = SmtpSettings.from_airflow_connection_json(text)
        else:
            settings = SmtpSettings.from_airflow_connection_uri(text)
    except ConfigError as exc:
        raise ConfigError(f"{CONNECTION_ENV}: {exc}") from None
    return replace(settings, source=CONNECTION_ENV)


# --- sending -----------------------------------------------------------------------------


def send_message(message: EmailMessage, smtp: SmtpSettings | None, outbox: Path) -> str:
    """Send ``message``; returns where it went (``smtp://host:port`` or the ``.eml`` path).

    Recipients are the To, Cc and Bcc headers (Bcc is not transmitted).
    Raises :class:`MailUnavailable` or :class:`MailRefused` (SMTP only).
    """
    if smtp is None:
        return str(write_eml(message, outbox))
    _send_smtp(message, smtp)
    return smtp.where


def write_eml(message: EmailMessage, outbox: Path) -> Path:
    """Write ``message`` to the outbox atomically (a reader never sees half a file)."""
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = outbox / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
    partial = path.with_suffix(".eml.part")
    partial.write_bytes(message.as_bytes())
    partial.replace(path)
    return path


def recipients_of(message: EmailMessage) -> list[str]:
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    return [address for _name, address in getaddresses(fields) if address]


def _send_smtp(message: EmailMessage, smtp: SmtpSettings) -> None:
    recipients = recipients_of(message)
    if not recipients:
        raise ValueError("the message has no recipients")
    with _session(smtp) as client:
        # Every recipient is asked first: one refused means nobody gets it.
        _ask_recipients(client, smtp, sender_of(message), recipients)
        refused = client.send_message(message, to_addrs=recipients)
    if refused:
        # Accepted when asked, refused when sent: the rest got it (it went).
        log.warning("%s refused %d of %d recipients", smtp.where, len(refused), len(recipients))


def check_mail_server(smtp: SmtpSettings, sender: str, recipients: Sequence[str]) -> None:
    """Connect, log in and ask the server to take every recipient; send nothing.

    What a send would need, checked before any message goes, so a server
    that is down, a login it refuses or an address it rejects stops the
    whole send with nobody sent anything.  Raises :class:`MailUnavailable`
    or :class:`MailRefused`.
    """
    with _session(smtp) as client:
        _ask_recipients(client, smtp, sender, recipients)


def sender_of(message: EmailMessage) -> str:
    """The envelope sender smtplib uses: the Sender header, else From."""
    header = message["Sender"] or message["From"]
    addresses = getaddresses([str(header)]) if header else []
    return addresses[0][1] if addresses else ""


@contextmanager
def _session(smtp: SmtpSettings) -> Iterator[smtplib.SMTP]:
    """A connected (and logged-in) client; the server's faults as one sentence each."""
    named = f"the mail server at {smtp.where} ({smtp.source})"
    try:
        with _connect(smtp) as client:
            if smtp.login:
                client.login(smtp.login, smtp.password or "")
            yield client
    except smtplib.SMTPAuthenticationError as exc:
        raise MailRefused(f"{named} refused the login for {smtp.login}: {_said(exc)}") from None
    except smtplib.SMTPNotSupportedError:
        raise MailRefused(
            f"{named} offers no login, but the connection has one for {smtp.login}"
        ) from None
    except smtplib.SMTPRecipientsRefused:
        raise MailRefused(f"{named} refused every recipient of the message") from None
    except smtplib.SMTPSenderRefused as exc:
        raise MailRefused(f"{named} refused the sender {exc.sender}: {_said(exc)}") from None
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise MailUnavailable(f"{named} asked to try later: {_said(exc)}") from None
        raise MailRefused(f"{named} refused the message: {_said(exc)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        # Connection refused, timed out, dropped, TLS failed: the server is not there.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MailUnavailable(
            f"cannot reach the mail server at {smtp.where} ({smtp.source}): "
            f"{reason or type(exc).__name__}"
        ) from None


def _ask_recipients(
    client: smtplib.SMTP, smtp: SmtpSettings, sender: str, recipients: Sequence[str]
) -> None:
    """MAIL FROM and RCPT TO for every recipient, then RSET: nothing is sent.

    Raises :class:`MailRefused` naming each address refused (or
    :class:`MailUnavailable` when the server only asked to try later).
    """
    client.ehlo_or_helo_if_needed()
    code, said = client.mail(sender)
    if code != 250:
        client.rset()
        raise smtplib.SMTPSenderRefused(code, said, sender)
    refused: list[tuple[str, int, bytes]] = []
    for address in recipients:
        code, said = client.rcpt(address)
        if code not in (250, 251):
            refused.append((address, code, said))
    client.rset()
    if not refused:
        return
    named = f"the mail server at {smtp.where} ({smtp.source})"
    listed = ", ".join(
        f"{address} ({code} {said.decode('utf-8', 'replace')})".replace(" )", ")")
        for address, code, said in refused
    )
    if all(400 <= code < 500 for _address, code, _said in refused):
        raise MailUnavailable(f"{named} asked to try later for {listed}; nothing was sent")
    raise MailRefused(f"{named} refused {listed}; nothing was sent to anyone")


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if smtp.ssl:
        return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    if smtp.starttls:
        try:
            client.starttls(context=context)
        except BaseException:
            client.close()
            raise
    return client


def _said(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
    return f"{exc.smtp_code} {text}".strip()


def retrying(
    action: Callable[[], T],
    *,
    attempts: int,
    delay: float = 2.0,
    on_retry: Callable[[int, MailUnavailable], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``action``, retrying on :class:`MailUnavailable` with doubling delays.

    For the command line only: under Airflow the task is retried instead,
    so a worker is not held sleeping.
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except MailUnavailable as exc:
            if attempt == attempts:
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            sleep(delay * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover
