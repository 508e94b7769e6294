"""Alembic revisions of the speechrec schema, one file each (see speechrec.migrations)."""
