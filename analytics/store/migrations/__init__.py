"""Alembic migrations of the product's schema (``store.migrate`` runs them on start-up).
A new schema change = one new file in ``versions/``: `alembic -c analytics/store/alembic.ini
revision --autogenerate -m "what changed"` against a database at head."""
