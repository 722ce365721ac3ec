"""The DAG files; the wheel ships this folder as the package ``etl._dags``."""
