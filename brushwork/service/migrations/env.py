"""Alembic's entry: run the revisions on the connection :mod:`brushwork.service.migrate` hands over."""

from alembic import context

from brushwork.service.schema import metadata

context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
