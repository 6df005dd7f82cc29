"""Families a notice could not reach are kept with it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

A family of the audience with no contact on a channel that can reach it between conversations
(no mobile number, no Telegram) is a `broadcast_recipient` row with `skipped = 'no_channel'`
and neither contact nor channel, so the notice's figures say how many families, in which
classes, need a paper note or a call (`broadcasts.figures`).
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("broadcast_recipient", "contact_id", nullable=True)
    op.alter_column("broadcast_recipient", "channel", nullable=True)
    op.create_check_constraint(
        "ck_broadcast_recipient_reachable",
        "broadcast_recipient",
        "skipped = 'no_channel' OR (contact_id IS NOT NULL AND channel IS NOT NULL)",
    )


def downgrade() -> None:
    op.execute("DELETE FROM broadcast_recipient WHERE contact_id IS NULL OR channel IS NULL")
    op.drop_constraint("ck_broadcast_recipient_reachable", "broadcast_recipient")
    op.alter_column("broadcast_recipient", "channel", nullable=False)
    op.alter_column("broadcast_recipient", "contact_id", nullable=False)
