"""A secrets backend that answers nothing and writes down every lookup.

Configured as Airflow's first backend by the parse probe, it shows whether
parsing a DAG file asked for a connection or a Variable.  Kept in its own
module so Airflow's import of it and the probe's share one list.  It does
not subclass Airflow's ``BaseSecretsBackend``: Airflow loads it while
``airflow`` itself is still being imported, and it needs only these methods.
"""

from __future__ import annotations

from typing import Any

LOOKUPS: list[str] = []


class RecordingBackend:
    def _set_connection_class(self, cls: Any) -> None:
        pass

    def get_connection(self, conn_id: str, team_name: str | None = None) -> None:
        LOOKUPS.append(f"connection:{conn_id}")

    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> None:
        LOOKUPS.append(f"connection:{conn_id}")

    def get_variable(self, key: str, team_name: str | None = None) -> None:
        LOOKUPS.append(f"variable:{key}")

    def get_config(self, key: str) -> None:
        return None
