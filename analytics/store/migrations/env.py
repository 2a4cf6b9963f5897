"""Alembic environment: the connection comes from ``store.migrate`` (programmatic use), or
from ``sqlalchemy.url`` when run from the command line for autogenerate."""

from alembic import context
from sqlalchemy import create_engine

from analytics.store.models import Base

config = context.config
connection = config.attributes.get("connection")


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url")).connect() as own:
        run(own)
