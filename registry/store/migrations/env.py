"""Alembic environment: run by ``Store.migrate`` on a connection it passes in ``config.attributes``."""

from alembic import context

from registry.store.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
