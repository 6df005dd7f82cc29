"""Schools and families, staff scopes and the audit log, the handover inbox, broadcasts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Sections (each owned by one part of the code, see the comments): schools and families
(`schools/`), staff scopes, login throttling and audit (`staff/`), the inbox
(`staff/inbox*`), broadcasts (`broadcasts/`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _id() -> sa.Column[Any]:
    return sa.Column("id", sa.BigInteger, primary_key=True)


def _ref(
    table: str, *, nullable: bool = False, ondelete: str = "CASCADE", name: str = ""
) -> sa.Column[Any]:
    return sa.Column(
        name or f"{table}_id",
        sa.BigInteger,
        sa.ForeignKey(f"{table}.id", ondelete=ondelete),
        nullable=nullable,
    )


def _at(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # -- schools and families ------------------------------------------------------------
    op.create_table(
        "school",
        _id(),
        # The UAI (national school number, e.g. 0931234A): what CSV files name a school by.
        sa.Column("uai", sa.String(16), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="Europe/Paris"),
        # What a parent types or follows to join ("REJOINDRE 7FQ2", t.me/<bot>?start=join_7FQ2).
        sa.Column("join_code", sa.String(16), nullable=False, unique=True),
        # When the school's team answers the inbox: {"mon": [["08:30", "12:00"], ...], ...}.
        sa.Column("opening_hours", JSONB, nullable=False, server_default="{}"),
        _at("created_at"),
    )
    # A family: the parent(s) of one household as the school knows them. Reached through the
    # contacts linked to it (an SMS number from the import, a Telegram chat after joining).
    op.create_table(
        "family",
        _id(),
        sa.Column("phone", sa.String(20), nullable=True, unique=True),  # E.164
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("preferred_channel", sa.String(16), nullable=True),
        _at("created_at"),
        _at("updated_at"),
    )
    op.create_table(
        "family_contact",
        _ref("family"),
        _ref("contact"),
        sa.PrimaryKeyConstraint("family_id", "contact_id"),
    )
    op.create_index("uq_family_contact_contact", "family_contact", ["contact_id"], unique=True)
    op.create_table(
        "family_school",
        _ref("family"),
        _ref("school"),
        sa.Column("level", sa.Text, nullable=False, server_default=""),  # "6e", "CM2"...
        sa.Column("class_name", sa.Text, nullable=False, server_default=""),  # "6eB"
        sa.Column("source", sa.String(16), nullable=False),  # import | join
        _at("joined_at"),
        sa.PrimaryKeyConstraint("family_id", "school_id", "class_name"),
    )
    op.create_index(
        "ix_family_school_school", "family_school", ["school_id", "level", "class_name"]
    )
    # The last families import of each member of staff: its figures and the report of the
    # rejected rows (a CSV with the phone numbers as written), for the page's download link.
    # Only the latest one per account is kept (`schools.imports`); CLI imports are not stored.
    op.create_table(
        "family_import",
        _id(),
        _ref("staff_account", name="account_id"),
        sa.Column("file_name", sa.Text, nullable=False, server_default=""),
        sa.Column("school_ids", ARRAY(sa.BigInteger), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("imported", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("families_created", sa.Integer, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        _at("created_at"),
    )
    op.create_index("ix_family_import_account", "family_import", ["account_id", "created_at"])

    # -- staff scopes, login throttling, audit ----------------------------------------------
    # School staff act for these schools only.
    op.create_table(
        "staff_school",
        _ref("staff_account", name="account_id"),
        _ref("school"),
        sa.PrimaryKeyConstraint("account_id", "school_id"),
    )
    # Organisers manage these workshops only (the creator is added when creating one).
    op.create_table(
        "staff_workshop",
        _ref("staff_account", name="account_id"),
        _ref("workshop"),
        sa.PrimaryKeyConstraint("account_id", "workshop_id"),
    )
    # A mediator (conseiller numérique) may act for a family that agreed to it.
    op.create_table(
        "mediation",
        _id(),
        _ref("staff_account", name="account_id"),
        _ref("family"),
        sa.Column("consent", sa.Text, nullable=False),  # how the family agreed, in words
        _at("granted_at"),
        _at("revoked_at", nullable=True),
    )
    op.create_index("ix_mediation_account", "mediation", ["account_id", "family_id"])
    # Failed sign-ins, by the SHA-256 of the lower-cased e-mail and by client address.
    op.create_table(
        "login_failure",
        _id(),
        sa.Column("key", sa.LargeBinary, nullable=False),
        _at("at"),
    )
    op.create_index("ix_login_failure_key_at", "login_failure", ["key", "at"])
    # Who did what, when, on whom. Append-only: triggers refuse UPDATE, DELETE and TRUNCATE
    # (so an account with entries cannot be deleted either: accounts are disabled instead).
    op.create_table(
        "audit_log",
        _id(),
        _at("at"),
        _ref("staff_account", nullable=True, ondelete="SET NULL", name="account_id"),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False, server_default=""),
        sa.Column("target_id", sa.Text, nullable=False, server_default=""),
        sa.Column("detail", JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.execute(
        """
        CREATE FUNCTION liaison_audit_log_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only';
        END;
        $$;
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION liaison_audit_log_append_only();
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION liaison_audit_log_append_only();
        """
    )

    # -- the handover inbox -------------------------------------------------------------------
    op.create_table(
        "handover",
        _id(),
        _ref("contact"),
        _ref("school", nullable=True, ondelete="SET NULL"),  # None: the default team
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        # handover (the parent asked), fallbacks (twice not understood), notice_reply
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("broadcast_id", sa.BigInteger, nullable=True),  # the notice replied to
        _ref("staff_account", nullable=True, ondelete="SET NULL", name="assigned_to"),
        _at("opened_at"),
        _at("closed_at", nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_handover_status"),
    )
    # One open conversation per parent.
    op.create_index(
        "uq_handover_open",
        "handover",
        ["contact_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_handover_school_status", "handover", ["school_id", "status", "opened_at"])
    # A staff member's reply is a turn of the conversation, signed by its author.
    op.add_column(
        "turn",
        sa.Column(
            "staff_account_id",
            sa.BigInteger,
            sa.ForeignKey("staff_account.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )

    # -- broadcasts ----------------------------------------------------------------------------
    op.create_table(
        "broadcast",
        _id(),
        sa.Column("title", sa.Text, nullable=False),  # for staff lists, never sent
        sa.Column("school_ids", ARRAY(sa.BigInteger), nullable=False),
        # {"levels": [], "classes": [], "languages": [], "channels": [], "segments": []}
        sa.Column("audience", JSONB, nullable=False, server_default="{}"),
        sa.Column("template", sa.String(64), nullable=True),
        sa.Column("placeholders", JSONB, nullable=False, server_default="{}"),
        sa.Column("texts", JSONB, nullable=False, server_default="{}"),  # {"fr": "...", "ar": ...}
        sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String(16), nullable=False, server_default="draft"),
        _at("scheduled_at", nullable=True),
        _ref("staff_account", nullable=True, ondelete="SET NULL", name="created_by"),
        _at("created_at"),
        _at("sent_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'sending', 'sent', 'cancelled')",
            name="ck_broadcast_status",
        ),
    )
    op.create_foreign_key(
        "fk_handover_broadcast",
        "handover",
        "broadcast",
        ["broadcast_id"],
        ["id"],
        ondelete="SET NULL",
    )
    # Who a notice went to: one row per family (one message each, even in two classes).
    op.create_table(
        "broadcast_recipient",
        _ref("broadcast"),
        _ref("family"),
        _ref("contact"),
        # The targeted school the family was reached through (the first one when in several):
        # its time zone decides when a non-urgent notice may leave.
        _ref("school", nullable=True, ondelete="SET NULL"),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column(
            "outbound_message_id",
            sa.BigInteger,
            sa.ForeignKey("outbound_message.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("skipped", sa.String(32), nullable=True),  # opted_out, no_channel...
        sa.PrimaryKeyConstraint("broadcast_id", "family_id"),
    )
    op.create_index("ix_broadcast_recipient_contact", "broadcast_recipient", ["contact_id"])
    # The periodic job looks for notices that fall due.
    op.create_index("ix_broadcast_status_scheduled", "broadcast", ["status", "scheduled_at"])


def downgrade() -> None:
    op.drop_table("broadcast_recipient")
    op.drop_constraint("fk_handover_broadcast", "handover")
    op.drop_table("broadcast")
    op.drop_column("turn", "staff_account_id")
    op.drop_table("handover")
    op.execute("DROP TABLE audit_log")
    op.execute("DROP FUNCTION liaison_audit_log_append_only()")
    op.drop_table("login_failure")
    op.drop_table("mediation")
    op.drop_table("staff_workshop")
    op.drop_table("staff_school")
    op.drop_table("family_import")
    op.drop_table("family_school")
    op.drop_table("family_contact")
    op.drop_table("family")
    op.drop_table("school")
