"""A turn's state as one JSON document; a known conversation's turn saved in one statement.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

`liaison_turn_state(contact)` is what a turn needs to know about a parent, as one JSON
document: the contact's language and STOP, the conversation's state (or that there is none
yet) and whether a person has it (an open handover). Opening a turn returns it
(`liaison_open_turn_state`, which replaces 0009's `liaison_open_turn`), and so does saving one.
Both ways lock the contact, creating it if new, with `liaison_lock_contact`.

`liaison_save_known_turn(p)` is the web process's short way (`bot.store`): it ran the turn on
the state the last save returned (`p->'expected'`), or for a parent it has not met on the
state of a new contact, without reading it first. In one statement it locks the contact
(creating it if new), compares the stored state with the expected one, and only if they are
equal saves the turn (0009's `liaison_save_turn`) and returns the contact's id and its new
state. Otherwise it writes nothing but the contact (its `last_seen_at`) and returns NULL:
something changed the conversation meanwhile (another process, a person of the school, a job),
or the parent was not new, and the turn is run again the long way. Each statement of a
VOLATILE PL/pgSQL function takes a fresh snapshot, so the comparison sees what a concurrent
turn committed while this one waited for the lock.

`liaison_save_known_turns(p)` does the same for a list of turns of different parents, in one
transaction (`bot.save_batches`): what concurrent parents say is saved with one statement and
one commit. It returns each turn's result (or null) in the list's order.

A change to the `contact`, `conversation`, `handover` or `turn` columns these functions use
needs a new migration that replaces them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TURN_STATE = """
CREATE OR REPLACE FUNCTION liaison_turn_state(p_contact bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'language', c.language,
        'opted_out', c.opted_out_at IS NOT NULL,
        'conversation', v.contact_id IS NOT NULL,
        'welcomed', coalesce(v.welcomed, false),
        'active_form', v.active_form,
        'requested_slot', v.requested_slot,
        'slots', coalesce(v.slots, '{}'::jsonb),
        'last_intents', coalesce(v.last_intents, '[]'::jsonb),
        'offered_buttons', coalesce(v.offered_buttons, '[]'::jsonb),
        'fallback_count', coalesce(v.fallback_count, 0),
        'handover', EXISTS (
            SELECT 1 FROM handover h WHERE h.contact_id = c.id AND h.status = 'open'
        )
    )
    FROM contact c LEFT JOIN conversation v ON v.contact_id = c.id
    WHERE c.id = p_contact
$$
"""

LOCK_CONTACT = """
CREATE OR REPLACE FUNCTION liaison_lock_contact(
    p_channel text, p_address text, p_now timestamptz
) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    INSERT INTO contact AS c (channel, address, created_at, last_seen_at)
    VALUES (p_channel, p_address, p_now, p_now)
    ON CONFLICT ON CONSTRAINT uq_contact_channel_address
    DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
    RETURNING c.id
$$
"""

OPEN_TURN_STATE = """
CREATE OR REPLACE FUNCTION liaison_open_turn_state(
    p_channel text, p_address text, p_now timestamptz
) RETURNS TABLE (contact_id bigint, state jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_contact bigint := liaison_lock_contact(p_channel, p_address, p_now);
BEGIN
    RETURN QUERY SELECT v_contact, liaison_turn_state(v_contact);
END
$$
"""

SAVE_KNOWN_TURN = """
CREATE OR REPLACE FUNCTION liaison_save_known_turn(p jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_contact bigint := (p->>'contact_id')::bigint;
    v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
    IF v_contact IS NULL THEN  -- a parent the web process has not met: new, as expected, or not
        v_contact := liaison_lock_contact(p->>'channel', p->>'address', v_now);
        p := jsonb_set(p, '{contact_id}', to_jsonb(v_contact));
    ELSE
        UPDATE contact SET last_seen_at = v_now WHERE id = v_contact;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    IF liaison_turn_state(v_contact) IS DISTINCT FROM p->'expected' THEN
        RETURN NULL;
    END IF;
    PERFORM liaison_save_turn(p);
    RETURN jsonb_build_object('contact_id', v_contact, 'state', liaison_turn_state(v_contact));
END
$$
"""

SAVE_KNOWN_TURNS = """
CREATE OR REPLACE FUNCTION liaison_save_known_turns(p jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    saved jsonb[] := '{}';  -- one result per turn, in the list's order
    item record;
BEGIN
    -- Contacts are locked in one order, so the batches of two web processes do not deadlock.
    FOR item IN
        SELECT t.turn, t.n FROM jsonb_array_elements(p) WITH ORDINALITY AS t(turn, n)
        ORDER BY (t.turn->>'contact_id')::bigint NULLS LAST, t.turn->>'address', t.n
    LOOP
        saved[item.n] := liaison_save_known_turn(item.turn);
    END LOOP;
    RETURN to_jsonb(saved);
END
$$
"""


def upgrade() -> None:
    op.execute(TURN_STATE)
    op.execute(LOCK_CONTACT)
    op.execute(OPEN_TURN_STATE)
    op.execute(SAVE_KNOWN_TURN)
    op.execute(SAVE_KNOWN_TURNS)
    op.execute("DROP FUNCTION liaison_open_turn(text, text, timestamptz)")


def downgrade() -> None:
    op.execute(_revision_0009().OPEN_TURN)
    op.execute("DROP FUNCTION liaison_save_known_turns(jsonb)")
    op.execute("DROP FUNCTION liaison_save_known_turn(jsonb)")
    op.execute("DROP FUNCTION liaison_open_turn_state(text, text, timestamptz)")
    op.execute("DROP FUNCTION liaison_lock_contact(text, text, timestamptz)")
    op.execute("DROP FUNCTION liaison_turn_state(bigint)")


def _revision_0009() -> ModuleType:
    """Migration 0009's module, whose `liaison_open_turn` the downgrade puts back."""
    path = Path(__file__).with_name("0009_turn_functions.py")
    spec = importlib.util.spec_from_file_location("liaison_migration_0009", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
