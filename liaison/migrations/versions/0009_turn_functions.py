"""Opening and saving a conversation turn are two server-side functions.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

Every inbound message (web, SMS, Telegram) opens a turn, runs the assistant and saves the turn
(`bot.store`). Done as separate statements that was five round trips to PostgreSQL, each one
costing the single-threaded web process more CPU than PostgreSQL spends on it. With these two
functions a web turn is two round trips: `BEGIN; SELECT * FROM liaison_open_turn(…)` and
`SELECT liaison_save_turn(…); COMMIT`. PL/pgSQL keeps each statement's plan for the session.

`liaison_open_turn` locks the contact's row (creating the contact if new) and only then reads
the conversation: each statement of a VOLATILE function takes a fresh snapshot, so the read
sees what a concurrent turn of the same parent committed while this one waited for the lock.

`liaison_save_turn` takes the turn as one JSON document (one parameter to adapt instead of
seventeen): the contact's language and STOP (written only when they changed), the
conversation's state, and the turns in order.

A change to the `contact`, `conversation` or `turn` columns these functions use needs a new
migration that replaces them.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OPEN_TURN = """
CREATE OR REPLACE FUNCTION liaison_open_turn(p_channel text, p_address text, p_now timestamptz)
RETURNS TABLE (
    contact_id bigint, language text, opted_out boolean, has_conversation boolean,
    welcomed boolean, active_form text, requested_slot text, slots jsonb, last_intents jsonb,
    offered_buttons jsonb, fallback_count integer, handover_open boolean
)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    found record;
BEGIN
    INSERT INTO contact AS c (channel, address, created_at, last_seen_at)
    VALUES (p_channel, p_address, p_now, p_now)
    ON CONFLICT ON CONSTRAINT uq_contact_channel_address
    DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
    RETURNING c.id, c.language, c.opted_out_at INTO found;
    RETURN QUERY
    SELECT found.id::bigint, found.language::text, found.opted_out_at IS NOT NULL,
           v.contact_id IS NOT NULL, coalesce(v.welcomed, false), v.active_form::text,
           v.requested_slot::text, coalesce(v.slots, '{}'::jsonb),
           coalesce(v.last_intents, '[]'::jsonb), coalesce(v.offered_buttons, '[]'::jsonb),
           coalesce(v.fallback_count, 0),
           EXISTS (SELECT 1 FROM handover h WHERE h.contact_id = found.id AND h.status = 'open')
    FROM (SELECT 1) AS one
    LEFT JOIN conversation v ON v.contact_id = found.id;
END
$$
"""

SAVE_TURN = """
CREATE OR REPLACE FUNCTION liaison_save_turn(p jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_contact bigint := (p->>'contact_id')::bigint;
    v_now timestamptz := (p->>'now')::timestamptz;
    v_language text := p->>'language';
    v_opted_out boolean := (p->>'opted_out')::boolean;
    v_handover boolean := (p->>'handover')::boolean;
BEGIN
    UPDATE contact
    SET language = v_language,
        opted_out_at = CASE WHEN v_opted_out THEN coalesce(opted_out_at, v_now) END
    WHERE id = v_contact
      AND (language IS DISTINCT FROM v_language
           OR (opted_out_at IS NOT NULL) IS DISTINCT FROM v_opted_out);
    INSERT INTO conversation AS v (contact_id, welcomed, active_form, requested_slot, slots,
                                   last_intents, offered_buttons, fallback_count,
                                   handover_requested_at, updated_at)
    VALUES (v_contact, (p->>'welcomed')::boolean, p->>'active_form', p->>'requested_slot',
            p->'slots', p->'last_intents', p->'offered_buttons',
            (p->>'fallback_count')::integer, CASE WHEN v_handover THEN v_now END, v_now)
    ON CONFLICT (contact_id) DO UPDATE SET
        welcomed = EXCLUDED.welcomed,
        active_form = EXCLUDED.active_form,
        requested_slot = EXCLUDED.requested_slot,
        slots = EXCLUDED.slots,
        last_intents = EXCLUDED.last_intents,
        offered_buttons = EXCLUDED.offered_buttons,
        fallback_count = EXCLUDED.fallback_count,
        handover_requested_at = CASE WHEN v_handover
            THEN coalesce(v.handover_requested_at, EXCLUDED.updated_at) END,
        updated_at = EXCLUDED.updated_at;
    INSERT INTO turn (contact_id, direction, channel, text, language, intent, confidence,
                      created_at)
    SELECT v_contact, t.turn->>'direction', p->>'channel', t.turn->>'text', p->>'language_out',
           t.turn->>'intent', (t.turn->>'confidence')::double precision, v_now
    FROM jsonb_array_elements(p->'turns') WITH ORDINALITY AS t(turn, n)
    ORDER BY t.n;
END
$$
"""


def upgrade() -> None:
    op.execute(OPEN_TURN)
    op.execute(SAVE_TURN)


def downgrade() -> None:
    op.execute("DROP FUNCTION liaison_save_turn(jsonb)")
    op.execute("DROP FUNCTION liaison_open_turn(text, text, timestamptz)")
