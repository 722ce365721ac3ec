"""What the Airflow DAGs call: task bodies, alerts and the DAG shapes.

The DAG files in ``dags/`` only orchestrate.  Each task there is a line or
two calling a function here, which resolves settings and connections and
hands them to the library (:mod:`etl.ingest`, :mod:`etl.warehouse`,
:mod:`etl.report`).  Nothing here runs at DAG parse time except building the
DAG objects themselves (:mod:`etl.orchestration.dags`).
"""
