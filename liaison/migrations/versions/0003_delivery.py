"""Channels and delivery: inbound receipts (dedup), the outbox, and the shared rate limiter.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# One reservation for several limits at once (for example Telegram's global and per-chat
# limits), taken atomically so that every worker process on every machine shares them.
# Returns the seconds to wait before sending (>= 0), or, when the slot would be further away
# than `p_horizon` seconds, nothing is reserved and the result is minus the seconds after which
# asking again makes sense. Callers pass the keys sorted, so two reservations never deadlock.
_RESERVE = """
CREATE FUNCTION liaison_rate_reserve(p_keys text[], p_intervals float8[], p_horizon float8)
    RETURNS float8
    LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_slot timestamptz := v_now;
    v_next timestamptz;
    i integer;
BEGIN
    INSERT INTO rate_limit (key, next_slot)
        SELECT k, v_now FROM unnest(p_keys) AS k
        ON CONFLICT (key) DO NOTHING;
    FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
        SELECT next_slot INTO v_next FROM rate_limit WHERE key = p_keys[i] FOR UPDATE;
        v_slot := greatest(v_slot, v_next);
    END LOOP;
    IF p_horizon IS NOT NULL AND v_slot > v_now + make_interval(secs => p_horizon) THEN
        RETURN -extract(epoch FROM v_slot - v_now - make_interval(secs => p_horizon));
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
        UPDATE rate_limit SET next_slot = v_slot + make_interval(secs => p_intervals[i])
            WHERE key = p_keys[i];
    END LOOP;
    RETURN extract(epoch FROM v_slot - v_now);
END;
$$;
"""


def upgrade() -> None:
    op.create_table(
        "inbound_receipt",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inbound_receipt_received", "inbound_receipt", ["received_at"])
    op.create_table(
        "outbound_message",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "contact_id",
            sa.BigInteger,
            sa.ForeignKey("contact.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("buttons", JSONB, nullable=False, server_default="[]"),
        sa.Column("segments", sa.Integer, nullable=False, server_default="1"),
        sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("provider_id", sa.String(64), nullable=True),
        sa.Column("error_code", sa.String(32), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("idempotency_key", sa.String(128), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'cancelled')",
            name="ck_outbound_message_status",
        ),
    )
    op.create_index(
        "ix_outbound_message_contact_status", "outbound_message", ["contact_id", "status"]
    )
    op.create_index(
        "uq_outbound_message_provider",
        "outbound_message",
        ["channel", "provider_id"],
        unique=True,
        postgresql_where=sa.text("provider_id IS NOT NULL"),
    )
    # Unlogged: the limiter's state is worth nothing after a crash (it restarts empty, which
    # only allows the first sends at once) and is written on every send.
    op.execute(
        "CREATE UNLOGGED TABLE rate_limit (key text PRIMARY KEY, next_slot timestamptz NOT NULL)"
    )
    op.execute(_RESERVE)


def downgrade() -> None:
    op.execute("DROP FUNCTION liaison_rate_reserve(text[], float8[], float8)")
    op.execute("DROP TABLE rate_limit")
    op.drop_table("outbound_message")
    op.drop_table("inbound_receipt")
