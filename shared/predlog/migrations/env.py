"""Alembic environment of the prediction log: runs on the connection `migrate.upgrade` gives."""

from __future__ import annotations

from alembic import context

from spectrum.shared.predlog.migrate import VERSION_TABLE
from spectrum.shared.predlog.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always run through shared.predlog.migrate
    raise RuntimeError("run the migrations with `python -m spectrum.shared.predlog.migrate`")
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
