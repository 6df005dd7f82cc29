"""Contacts, conversation state and turns.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(128), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "address", name="uq_contact_channel_address"),
    )
    op.create_table(
        "conversation",
        sa.Column(
            "contact_id",
            sa.BigInteger,
            sa.ForeignKey("contact.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("welcomed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("active_form", sa.String(64), nullable=True),
        sa.Column("requested_slot", sa.String(64), nullable=True),
        sa.Column("slots", JSONB, nullable=False, server_default="{}"),
        sa.Column("last_intents", JSONB, nullable=False, server_default="[]"),
        sa.Column("offered_buttons", JSONB, nullable=False, server_default="[]"),
        sa.Column("fallback_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("handover_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "turn",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "contact_id",
            sa.BigInteger,
            sa.ForeignKey("contact.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("direction IN ('in', 'out')", name="ck_turn_direction"),
    )
    op.create_index("ix_turn_contact_created", "turn", ["contact_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_turn_contact_created", table_name="turn")
    op.drop_table("turn")
    op.drop_table("conversation")
    op.drop_table("contact")
