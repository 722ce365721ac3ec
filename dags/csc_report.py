"""
### The commissioner's monthly pack

Triggered by any ingest DAG's Asset event (a month of workforce, referrals
or closures loaded for an LA). For each LA and month in those events, once
**all three** datasets of the month are loaded, renders the pack (HTML and
`kpis.csv`, archived under `CSC_REPORTS_DIR`) and e-mails it to every
configured audience through `smtp_default` (or writes `.eml` files to the
outbox). A pack already sent is not sent again; a changed one (after a
resubmission) goes as a marked correction; the `force` Param resends.

Manual run: Params `month` (YYYY-MM), `la_code`, `force`.
"""

from typing import Any

from airflow.sdk import Param, dag, task

from etl.orchestration import policy
from etl.orchestration.assets import LOADED


@dag(
    dag_id="csc_report",
    description="Render and send the commissioner's pack when a month is complete",
    doc_md=__doc__,
    schedule=LOADED["workforce"] | LOADED["referrals"] | LOADED["closures"],
    start_date=None,
    catchup=False,  # asset-triggered: there is nothing to catch up
    max_active_runs=1,  # two runs never race to send the same pack
    default_args=policy.default_args(),
    params={
        "month": Param(None, type=["null", "string"], pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
        "la_code": Param(None, type=["null", "string"], pattern=r"^\d{3}$"),
        "force": Param(False, type="boolean", description="Send again even if already sent."),
    },
    tags=["csc", "report"],
)
def csc_report() -> None:
    @task(retries=0)
    def packs_to_publish(**context: Any) -> list[dict[str, Any]]:
        from etl.orchestration import tasks

        return tasks.report_targets(context)

    @task
    def publish(target: dict[str, Any], **context: Any) -> dict[str, Any]:
        from etl.orchestration import tasks

        return tasks.publish(target, tasks.task_settings(), force=bool(context["params"]["force"]))

    publish.expand(target=packs_to_publish())


csc_report()
