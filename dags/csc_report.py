"""
### The commissioner's monthly pack

Triggered by any ingest DAG's Asset event (a month of workforce, referrals
or closures loaded for an LA). For each LA and month in those events, once
**all three** datasets of the month are loaded, renders the pack (HTML and
`kpis.csv`, archived under `CSC_REPORTS_DIR`) and e-mails it to every
configured audience through `smtp_default` (or writes `.eml` files to the
outbox). A pack already sent is not sent again; a changed one (after a
resubmission) goes as a marked correction; the `force` Param resends.

An audience whose pack configuration asks for **sign-off** waits in the
`sign_off` task (Airflow's "Required actions": headline figures, data
quality, the archived pack's link) for one of its approvers: Approve sends
it, with the approval recorded; Reject e-mails the data engineers the
comment and sends nothing; no answer in time alerts them and sends nothing.

Manual run: Params `month` (YYYY-MM), `through` (the last month of a range),
`la_code`, `force`.
"""

from typing import Any

from airflow.sdk import Param, dag, task

from etl.orchestration import policy
from etl.orchestration.assets import LOADED
from etl.orchestration.signoff import PackSignOff


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
        "through": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
            description="Every month from `month` through this one (YYYY-MM).",
        ),
        "la_code": Param(None, type=["null", "string"], pattern=r"^\d{3}$"),
        "force": Param(False, type="boolean", description="Send again even if already sent."),
    },
    tags=["csc", "report"],
)
def csc_report() -> None:
    @task  # reads the warehouse for owed packs: retried on transient faults
    def packs_to_publish(**context: Any) -> list[dict[str, Any]]:
        from etl.orchestration import tasks

        return tasks.report_targets(context)

    @task
    def publish(target: dict[str, Any], **context: Any) -> dict[str, Any]:
        from etl.orchestration import tasks

        return tasks.publish(target, tasks.task_settings(), force=bool(context["params"]["force"]))

    @task(retries=0)
    def sign_off_requests(published: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # One slice, not iteration: iterating the mapped results asks for one
        # past the end, which Airflow logs as an error ("XCom not found").
        return [request for pack in published[:] for request in pack.get("sign_off", [])]

    # Waits in awaiting_input (no worker slot) for the approvers' answer; retried
    # never, since a retry would ask again with nobody told.
    PackSignOff.partial(task_id="sign_off", retries=0).expand(
        request=sign_off_requests(publish.expand(target=packs_to_publish()))
    )


csc_report()
