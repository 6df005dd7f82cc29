"""Staff accounts and sessions; attendance, walk-ins, single-use tokens and follow-up outcomes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Organisers and school staff. Roles are a list so that broadcasts and the inbox can add
    # theirs ("organiser", "school", "admin"...) without a new table.
    op.create_table(
        "staff_account",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("roles", ARRAY(sa.Text), nullable=False, server_default="{organiser}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "uq_staff_account_email", "staff_account", [sa.text("lower(email)")], unique=True
    )
    # Server-side sessions: the cookie carries a random token, the table its SHA-256 only.
    op.create_table(
        "staff_session",
        sa.Column("token_hash", sa.LargeBinary, primary_key=True),
        sa.Column(
            "account_id",
            sa.BigInteger,
            sa.ForeignKey("staff_account.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("csrf_token", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_staff_session_expires", "staff_session", ["expires_at"])

    # Attendance, set at the door or after the session.
    op.add_column("enrolment", sa.Column("attendance", sa.String(16), nullable=True))
    op.add_column(
        "enrolment", sa.Column("attendance_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "enrolment",
        sa.Column(
            "attendance_by",
            sa.BigInteger,
            sa.ForeignKey("staff_account.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_check_constraint(
        "ck_enrolment_attendance",
        "enrolment",
        "attendance IS NULL OR attendance IN ('attended', 'no_show', 'excused')",
    )
    # People who come without enrolling: no phone, no contact, only a count and a language.
    op.create_table(
        "walk_in",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "workshop_id",
            sa.BigInteger,
            sa.ForeignKey("workshop.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("people", sa.SmallInteger, nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("label", sa.Text, nullable=False, server_default=""),
        sa.Column(
            "created_by",
            sa.BigInteger,
            sa.ForeignKey("staff_account.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("people BETWEEN 1 AND 10", name="ck_walk_in_people"),
    )
    op.create_index("ix_walk_in_workshop", "walk_in", ["workshop_id"])
    # Signed tokens that may be used once (check-in QR codes): the digest of each one used.
    op.create_table(
        "used_token",
        sa.Column("digest", sa.LargeBinary, primary_key=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Answers to follow-ups ("did you manage on your own?"), one row per answer.
    op.create_table(
        "outcome",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "enrolment_id",
            sa.BigInteger,
            sa.ForeignKey("enrolment.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("answer", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outcome_enrolment", "outcome", ["enrolment_id", "kind", "recorded_at"])


def downgrade() -> None:
    op.drop_table("outcome")
    op.drop_table("used_token")
    op.drop_table("walk_in")
    op.drop_constraint("ck_enrolment_attendance", "enrolment")
    op.drop_column("enrolment", "attendance_by")
    op.drop_column("enrolment", "attendance_at")
    op.drop_column("enrolment", "attendance")
    op.drop_table("staff_session")
    op.drop_table("staff_account")
