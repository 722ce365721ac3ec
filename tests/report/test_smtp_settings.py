"""SMTP settings read as the Airflow smtp provider reads its connection, without Airflow."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from etl.errors import ConfigError
from etl.report.delivery import CONNECTION_ENV, SmtpSettings, smtp_from_environment


def test_json_form_with_extras() -> None:
    text = json.dumps(
        {
            "conn_type": "smtp",
            "host": "mailpit",
            "port": 1025,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "pack@la.gov.uk"},
        }
    )
    smtp = SmtpSettings.from_airflow_connection_json(text)
    assert (smtp.host, smtp.port, smtp.starttls, smtp.ssl) == ("mailpit", 1025, False, False)
    assert smtp.from_address == "pack@la.gov.uk"
    assert smtp.login is None and smtp.where == "smtp://mailpit:1025"


def test_provider_defaults_are_ssl_on_465() -> None:
    smtp = SmtpSettings.from_airflow_connection_json('{"host": "relay.example"}')
    assert (smtp.ssl, smtp.starttls, smtp.port, smtp.timeout) == (True, False, 465, 30.0)


def test_starttls_with_login_and_extra_as_a_string() -> None:
    text = json.dumps(
        {
            "host": "smtp.office365.com",
            "port": 587,
            "login": "pack@la.gov.uk",
            "password": "s3cret",
            "extra": json.dumps({"disable_ssl": "true", "timeout": 10, "retry_limit": 4}),
        }
    )
    smtp = SmtpSettings.from_airflow_connection_json(text)
    assert (smtp.ssl, smtp.starttls, smtp.timeout, smtp.attempts) == (False, True, 10.0, 5)
    assert (smtp.login, smtp.password) == ("pack@la.gov.uk", "s3cret")
    assert "s3cret" not in repr(smtp)


def test_uri_form_reads_false_as_false() -> None:
    """The provider reads bool("false") as True; here "false" means false."""
    smtp = SmtpSettings.from_airflow_connection_uri(
        "smtp://user%40la.gov.uk:p%40ss@mail.la.gov.uk:2525"
        "?disable_ssl=true&disable_tls=false&from_email=pack%40la.gov.uk"
    )
    assert (smtp.host, smtp.port, smtp.login, smtp.password) == (
        "mail.la.gov.uk",
        2525,
        "user@la.gov.uk",
        "p@ss",
    )
    assert (smtp.ssl, smtp.starttls, smtp.from_address) == (False, True, "pack@la.gov.uk")


@dataclass
class FakeConnection:
    """The attributes of airflow.models.Connection that the settings read."""

    host: str | None
    port: int | None
    login: str | None = None
    password: str | None = None
    extra_dejson: dict[str, Any] = field(default_factory=dict)


def test_from_an_airflow_connection_object() -> None:
    connection = FakeConnection("mailpit", 1025, extra_dejson={"disable_ssl": True})
    smtp = SmtpSettings.from_airflow_connection(connection)
    assert (smtp.host, smtp.port, smtp.ssl, smtp.starttls) == ("mailpit", 1025, False, True)


def test_environment_variable() -> None:
    assert smtp_from_environment({}) is None
    env = {CONNECTION_ENV: '{"host": "mailpit", "port": 1025}'}
    smtp = smtp_from_environment(env)
    assert smtp is not None and smtp.host == "mailpit"
    smtp = smtp_from_environment({CONNECTION_ENV: "smtp://mailpit:1025?disable_ssl=1"})
    assert smtp is not None and not smtp.ssl


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"port": 25}', "has no host"),
        ('{"host": "h", "extra": {"disable_ssl": "perhaps"}}', "must be true or false"),
        ('{"host": "h", "extra": "[1]"}', "extra is not a JSON object"),
        ('{"host": "h", "extra": {"timeout": "soon"}}', "must be numbers"),
    ],
)
def test_bad_connections_are_configuration_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SmtpSettings.from_airflow_connection_json(text)
