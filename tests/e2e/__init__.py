"""End-to-end tests against a real, running Airflow (its own processes, PostgreSQL)."""
