"""The sign-off step of the report DAG: Airflow's human-in-the-loop approval, one per copy.

:class:`PackSignOff` is Airflow's ``ApprovalOperator`` (options Approve and
Reject, and a comment field) made from one sign-off request that the
publish task returned (:func:`etl.orchestration.tasks.publish`): its subject,
body (headline figures, data quality, the archived pack's link), the
configured approvers (``assigned_users``: Airflow refuses anyone else's
answer) and how long it waits.  On Airflow 3.3 the task waits in the
``awaiting_input`` state, holding no worker slot; the answer (or the
scheduler's timeout sweep) resumes it in :meth:`PackSignOff.execute_complete`,
which sends the copy, or tells the data engineers why nothing went.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict

#: The comment field of the request (the approver's words, recorded with the delivery).
COMMENT = "comment"


class PackSignOff(ApprovalOperator):
    """Wait for someone to approve one audience's copy of a pack, then send it (or not)."""

    # The subject and body are made by the library, not Jinja templates: a
    # brace in them must arrive as written.
    template_fields = ()

    def __init__(self, *, request: dict[str, Any], **kwargs: Any) -> None:
        self.request = request
        # Airflow passes the DAG's Params in (HITLOperator keeps only the task's own).
        params = kwargs.pop("params", None)
        params = params if isinstance(params, ParamsDict) else ParamsDict(params or {})
        params[COMMENT] = Param(
            "",
            type="string",
            title="Comment",
            description="Recorded with the delivery; with Reject, e-mailed to the data engineers.",
            source="task",
        )
        super().__init__(
            subject=request["subject"],
            body=request["body"],
            assigned_users=[{"id": name, "name": name} for name in request["approvers"]],
            response_timeout=timedelta(hours=float(request["wait_hours"])),
            params=params,
            **kwargs,
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from etl.orchestration import tasks
        from etl.report.deliveries import Approval

        if event.get("error_type") == "timeout":
            tasks.sign_off_missed(self.request, context)  # raises SignOffMissed
        answer = super().execute_complete(context=context, event=event)
        user = answer["responded_by_user"] or {}
        approval = Approval(
            by=str(user.get("name") or user.get("id") or "unknown"),
            at=answer["responded_at"],
            comment=(answer["params_input"] or {}).get(COMMENT) or None,
            pack_sha256=self.request["pack_sha256"],
        )
        if answer["chosen_options"] == [self.APPROVE]:
            return tasks.send_signed_off(self.request, approval, context)
        return tasks.sign_off_rejected(self.request, approval, context)
