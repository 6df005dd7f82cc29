"""Enrolments in workshops: confirmed seats, the waiting list and seat offers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('confirmed', 'waitlisted', 'offered')"


def upgrade() -> None:
    op.create_table(
        "enrolment",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "workshop_id",
            sa.BigInteger,
            sa.ForeignKey("workshop.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "contact_id",
            sa.BigInteger,
            sa.ForeignKey("contact.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("people", sa.SmallInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("people BETWEEN 1 AND 10", name="ck_enrolment_people"),
        sa.CheckConstraint(
            "status IN ('confirmed', 'waitlisted', 'offered', 'cancelled', 'expired')",
            name="ck_enrolment_status",
        ),
    )
    # One live enrolment per parent and workshop; cancelled and expired ones stay as history.
    op.create_index(
        "uq_enrolment_active",
        "enrolment",
        ["workshop_id", "contact_id"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_index("ix_enrolment_workshop_status", "enrolment", ["workshop_id", "status", "id"])
    op.create_index(
        "ix_enrolment_offers",
        "enrolment",
        ["offer_expires_at"],
        postgresql_where=sa.text("status = 'offered'"),
    )


def downgrade() -> None:
    op.drop_table("enrolment")
