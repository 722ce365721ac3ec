"""The warehouse: schema, atomic monthly loads with lineage, and the measures.

Nothing is imported here (the modules pull in pandas and SQLAlchemy); use:

* :mod:`etl.warehouse.db` - ``make_engine(url)`` (PostgreSQL tables in the
  ``csc`` schema), ``upgrade(engine)`` / ``downgrade(engine)`` (Alembic, as
  ``csc-pipeline init`` runs it), ``schema_diff`` (models vs database);
* :mod:`etl.warehouse.load` - ``load_month(engine, dataset=..., ...)``: one
  month of one dataset for one LA replaced in one transaction;
  ``load_months``: the same for many LAs' files of one month, set-based;
* :mod:`etl.warehouse.measures` - ``KPI_IDS``, ``kpis_for(engine, la, month)``
  (the rows of kpis.csv), ``recompute_measures`` (``recompute_measures_of``
  for many LAs at once), ``months_affected``;
* :mod:`etl.warehouse.measures_sql` - the SQL, and ``current_referrals()``
  (each referral's latest version);
* :mod:`etl.warehouse.schema` - the tables, generated from the contracts.
"""
