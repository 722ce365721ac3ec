"""Alembic migrations of the warehouse schema (a package so wheels ship them)."""
