"""
### Monthly referrals ingest

Waits for the referrals extract (each referral's current state, assessments, NFA)
of each LA in the landing folder (`{dataset}_{la}_{YYYY-MM}.csv`
or `.xlsx`), then **validates** it (Great Expectations suite of its contract),
**loads** the month into the warehouse in one transaction, and **recomputes**
the measures it affects. A successful run emits the `csc_referrals_loaded` Asset
event with the LA and month, which triggers the report DAG.

A rejected file loads nothing: it goes to quarantine with a data-quality report
and the data engineers are e-mailed. Params: `month` (YYYY-MM; default the month
before the run), `la_code`, `force`.
"""

from etl.orchestration.ingest_dag import build_ingest_dag  # builds an airflow.sdk DAG

dag = build_ingest_dag("referrals", doc_md=__doc__)
