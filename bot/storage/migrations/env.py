"""Alembic environment: uses the connection handed over by bot.storage.migrate."""

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import bot.storage.cohort_models  # noqa: F401  (the trainer feature's tables)
import bot.storage.feedback_models  # noqa: F401  (the 360° check's tables)
import bot.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # `alembic revision --autogenerate` from a developer's shell
        url = config.get_main_option("sqlalchemy.url").replace("+aiosqlite", "")
        with create_engine(url).connect() as conn:
            _migrate(conn)
            conn.commit()
        return
    _migrate(connection)


def _migrate(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


run()
