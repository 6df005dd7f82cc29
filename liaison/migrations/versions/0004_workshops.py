"""Workshops (ateliers e-parentalité) as organisers describe them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workshop",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("ref", sa.String(64), nullable=False, unique=True),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="draft"),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("topics", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("languages", ARRAY(sa.Text), nullable=False, server_default="{fr}"),
        sa.Column("venue_name", sa.Text, nullable=False, server_default=""),
        sa.Column("venue_address", sa.Text, nullable=False, server_default=""),
        sa.Column("online_url", sa.Text, nullable=False, server_default=""),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("accessibility", sa.Text, nullable=False, server_default=""),
        sa.Column("childcare", sa.Text, nullable=False, server_default=""),
        sa.Column("organiser", sa.Text, nullable=False, server_default=""),
        sa.Column("territory", sa.Text, nullable=False, server_default=""),
        sa.Column("schools", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'cancelled')", name="ck_workshop_status"
        ),
        sa.CheckConstraint("ends_at > starts_at", name="ck_workshop_times"),
        sa.CheckConstraint("capacity > 0", name="ck_workshop_capacity"),
    )
    op.create_index("ix_workshop_status_starts", "workshop", ["status", "starts_at"])


def downgrade() -> None:
    op.drop_table("workshop")
