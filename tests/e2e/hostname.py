"""The host name a Celery worker of the e2e stack records on its task instances.

Airflow records ``[core] hostname_callable`` on each task instance it
starts.  Several workers on one machine share its name, so a worker of
:func:`tests.e2e.stack.running_airflow` started with more than one names
itself ``worker-N`` (``CSC_E2E_WORKER_NAME``) instead.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """``CSC_E2E_WORKER_NAME``, else the machine's own name as Airflow gives it."""
    return os.environ.get("CSC_E2E_WORKER_NAME") or socket.getfqdn()
