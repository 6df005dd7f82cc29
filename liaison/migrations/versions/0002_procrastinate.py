"""procrastinate's job queue schema, in the same database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op
from procrastinate.schema import SchemaManager

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    # Run through the driver unparsed: the schema's functions contain `%` and `:`.
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    dbapi.execute(SchemaManager.get_schema())


def downgrade() -> None:
    op.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
