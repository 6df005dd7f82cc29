"""The tables. SQLModel declares them; Alembic (liaison/migrations) owns the schema.

Timestamps are timezone-aware UTC. Parents' data is kept to what the conversation needs: a
channel address (phone number in E.164 for SMS, chat id for Telegram, a random id for the web),
a preferred language, the opt-out, and the turns of the conversation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp(nullable: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable),
    )


class Contact(SQLModel, table=True):
    """A parent as seen by one channel: one row per (channel, address)."""

    __tablename__ = "contact"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_contact_channel_address"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    address: str = Field(sa_column=Column(String(128), nullable=False))
    language: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    opted_out_at: datetime | None = _timestamp(nullable=True)
    created_at: datetime = _timestamp()
    last_seen_at: datetime = _timestamp()


class Conversation(SQLModel, table=True):
    """Where the dialogue with a contact stands; any process can continue it."""

    __tablename__ = "conversation"

    contact_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True)
    )
    welcomed: bool = Field(default=False)
    active_form: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    requested_slot: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    slots: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    last_intents: list[str] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    offered_buttons: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    fallback_count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    handover_requested_at: datetime | None = _timestamp(nullable=True)
    updated_at: datetime = _timestamp()


class Turn(SQLModel, table=True):
    """One message in or out, with what the assistant understood of it."""

    __tablename__ = "turn"
    __table_args__ = (Index("ix_turn_contact_created", "contact_id", "created_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    contact_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False)
    )
    direction: str = Field(sa_column=Column(String(3), nullable=False))  # "in" | "out"
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    language: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    intent: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    confidence: float | None = Field(default=None)
    created_at: datetime = _timestamp()
    # A staff member's message from the inbox (migration 0007), signed by its author.
    staff_account_id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger, ForeignKey("staff_account.id", ondelete="SET NULL"), nullable=True
        ),
    )


class InboundReceipt(SQLModel, table=True):
    """A provider's message id seen once: Twilio's MessageSid, Telegram's update_id.

    Inserted in the same transaction as the turn it starts, so a retried delivery of the same
    message waits for the first one and then finds it done (a unique key, not a read-then-write).
    """

    __tablename__ = "inbound_receipt"

    channel: str = Field(sa_column=Column(String(16), primary_key=True))
    message_id: str = Field(sa_column=Column(String(64), primary_key=True))
    received_at: datetime = _timestamp()


class OutboundMessage(SQLModel, table=True):
    """One message to send: the outbox row behind a procrastinate `deliver` job.

    `status` goes queued -> sending -> sent -> delivered, or to failed (with the provider's
    code) or cancelled (the parent opted out before it left). `kind` is reply, keyword (the
    STOP/START/HELP confirmations, sent even to an opted-out number), reminder or bulk.
    """

    __tablename__ = "outbound_message"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    contact_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False)
    )
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    address: str = Field(sa_column=Column(String(128), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    priority: int = Field(sa_column=Column(Integer, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    buttons: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    segments: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    status: str = Field(default="queued", sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    provider_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    error_code: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    error_message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(128), nullable=True, unique=True)
    )
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    sent_at: datetime | None = _timestamp(nullable=True)
    delivered_at: datetime | None = _timestamp(nullable=True)


class WorkshopRow(SQLModel, table=True):
    """An atelier e-parentalité (`workshops.records.Workshop` is its validated form).

    Times are UTC; `timezone` is the venue's IANA zone, in which organisers and parents read
    them. `topics` are the assistant's tool names (Pronote, ÉduConnect...)."""

    __tablename__ = "workshop"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    ref: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(120), nullable=False))
    status: str = Field(default="draft", sa_column=Column(String(16), nullable=False))
    starts_at: datetime = _timestamp()
    ends_at: datetime = _timestamp()
    timezone: str = Field(sa_column=Column(String(64), nullable=False))
    capacity: int = Field(sa_column=Column(Integer, nullable=False))
    topics: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    languages: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(Text), nullable=False)
    )
    venue_name: str = Field(default="", sa_column=Column(Text, nullable=False))
    venue_address: str = Field(default="", sa_column=Column(Text, nullable=False))
    online_url: str = Field(default="", sa_column=Column(Text, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    accessibility: str = Field(default="", sa_column=Column(Text, nullable=False))
    childcare: str = Field(default="", sa_column=Column(Text, nullable=False))
    organiser: str = Field(default="", sa_column=Column(Text, nullable=False))
    territory: str = Field(default="", sa_column=Column(Text, nullable=False))
    schools: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class EnrolmentRow(SQLModel, table=True):
    """A parent's place in a workshop: confirmed, on the waiting list, offered a freed seat
    (until `offer_expires_at`), cancelled or expired. One live enrolment per parent and
    workshop (a partial unique index); decided by `workshops.enrolment` under the workshop's
    row lock."""

    __tablename__ = "enrolment"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    workshop_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("workshop.id", ondelete="CASCADE"), nullable=False)
    )
    contact_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False)
    )
    people: int = Field(sa_column=Column(Integer, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    offer_expires_at: datetime | None = _timestamp(nullable=True)
    # Set at the door or after the session: attended, no_show or excused.
    attendance: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    attendance_at: datetime | None = _timestamp(nullable=True)
    attendance_by: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger, ForeignKey("staff_account.id", ondelete="SET NULL"), nullable=True
        ),
    )
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class WalkIn(SQLModel, table=True):
    """People who came to a workshop without enrolling: a count and a language, no contact."""

    __tablename__ = "walk_in"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    workshop_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("workshop.id", ondelete="CASCADE"), nullable=False)
    )
    people: int = Field(sa_column=Column(Integer, nullable=False))
    language: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    label: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_by: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger, ForeignKey("staff_account.id", ondelete="SET NULL"), nullable=True
        ),
    )
    created_at: datetime = _timestamp()


class Outcome(SQLModel, table=True):
    """A parent's answer to a follow-up (kind "autonomy": "yes" or "not_yet")."""

    __tablename__ = "outcome"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    enrolment_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("enrolment.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    answer: str = Field(sa_column=Column(String(32), nullable=False))
    recorded_at: datetime = _timestamp()


class UsedToken(SQLModel, table=True):
    """The SHA-256 of each single-use signed token already used (check-in QR codes)."""

    __tablename__ = "used_token"

    digest: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    purpose: str = Field(sa_column=Column(String(32), nullable=False))
    used_at: datetime = _timestamp()


class StaffAccount(SQLModel, table=True):
    """An organiser or school staff member. `roles` is open-ended ("organiser" today;
    broadcasts and the inbox add theirs). Passwords are stored as argon2id hashes only."""

    __tablename__ = "staff_account"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    email: str = Field(sa_column=Column(Text, nullable=False))
    name: str = Field(default="", sa_column=Column(Text, nullable=False))
    password_hash: str = Field(sa_column=Column(Text, nullable=False))
    roles: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    created_at: datetime = _timestamp()
    last_login_at: datetime | None = _timestamp(nullable=True)
    disabled_at: datetime | None = _timestamp(nullable=True)


class StaffSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random token, this row only its SHA-256."""

    __tablename__ = "staff_session"

    token_hash: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    account_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("staff_account.id", ondelete="CASCADE"), nullable=False
        )
    )
    csrf_token: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _timestamp()
    last_seen_at: datetime = _timestamp()
    expires_at: datetime = _timestamp()


# -- schools and families (migration 0007; the code is in `schools/`) ---------------------------


class School(SQLModel, table=True):
    """A school, named by its UAI in CSV files; parents join it with its `join_code`."""

    __tablename__ = "school"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    uai: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    timezone: str = Field(
        default="Europe/Paris",
        sa_column=Column(String(64), nullable=False, server_default="Europe/Paris"),
    )
    join_code: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    # {"mon": [["08:30", "12:00"], ["13:30", "17:00"]], ...}: when the school's team answers.
    opening_hours: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    created_at: datetime = _timestamp()


class Family(SQLModel, table=True):
    """A household as a school knows it: found by its phone (E.164) on re-import, reached
    through its contacts (`FamilyContact`)."""

    __tablename__ = "family"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    phone: str | None = Field(default=None, sa_column=Column(String(20), unique=True))
    language: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    preferred_channel: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class FamilyContact(SQLModel, table=True):
    """Which contacts (SMS number, Telegram chat, web chat) are a family's; a contact belongs
    to one family at most."""

    __tablename__ = "family_contact"
    __table_args__ = (Index("uq_family_contact_contact", "contact_id", unique=True),)

    family_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("family.id", ondelete="CASCADE"), primary_key=True)
    )
    contact_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True)
    )


class FamilySchool(SQLModel, table=True):
    """A family in a school, one row per class ("" when only the level, or nothing, is
    known); `source` is "import" (the school's file) or "join" (the parent's join code)."""

    __tablename__ = "family_school"
    __table_args__ = (Index("ix_family_school_school", "school_id", "level", "class_name"),)

    family_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("family.id", ondelete="CASCADE"), primary_key=True)
    )
    school_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("school.id", ondelete="CASCADE"), primary_key=True)
    )
    level: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    class_name: str = Field(default="", sa_column=Column(Text, primary_key=True, server_default=""))
    source: str = Field(sa_column=Column(String(16), nullable=False))
    joined_at: datetime = _timestamp()


class FamilyImport(SQLModel, table=True):
    """The last families import of a member of staff: its figures and the CSV report of the
    rejected rows (phone numbers as written, so one per account is kept)."""

    __tablename__ = "family_import"
    __table_args__ = (Index("ix_family_import_account", "account_id", "created_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    account_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("staff_account.id", ondelete="CASCADE"), nullable=False
        )
    )
    file_name: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    school_ids: list[int] = Field(
        default_factory=list, sa_column=Column(ARRAY(BigInteger), nullable=False)
    )
    rows: int = Field(sa_column=Column(Integer, nullable=False))
    imported: int = Field(sa_column=Column(Integer, nullable=False))
    rejected: int = Field(sa_column=Column(Integer, nullable=False))
    families_created: int = Field(sa_column=Column(Integer, nullable=False))
    report: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _timestamp()


# -- staff scopes, login throttling, audit (staff/scopes.py, staff/throttle.py, staff/audit.py)


def _account_ref(nullable: bool = False, ondelete: str = "CASCADE") -> Any:
    return Field(
        default=None,
        sa_column=Column(
            BigInteger, ForeignKey("staff_account.id", ondelete=ondelete), nullable=nullable
        ),
    )


class StaffSchool(SQLModel, table=True):
    """School staff act for these schools only."""

    __tablename__ = "staff_school"

    account_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("staff_account.id", ondelete="CASCADE"), primary_key=True
        )
    )
    school_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("school.id", ondelete="CASCADE"), primary_key=True)
    )


class StaffWorkshop(SQLModel, table=True):
    """Organisers manage these workshops only (the creator is linked when creating one)."""

    __tablename__ = "staff_workshop"

    account_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("staff_account.id", ondelete="CASCADE"), primary_key=True
        )
    )
    workshop_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("workshop.id", ondelete="CASCADE"), primary_key=True
        )
    )


class Mediation(SQLModel, table=True):
    """A mediator (conseiller numérique) may act for a family that agreed to it, until
    revoked. `consent` says how the family agreed, in words."""

    __tablename__ = "mediation"
    __table_args__ = (Index("ix_mediation_account", "account_id", "family_id"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    account_id: int = _account_ref()
    family_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("family.id", ondelete="CASCADE"), nullable=False)
    )
    consent: str = Field(sa_column=Column(Text, nullable=False))
    granted_at: datetime = _timestamp()
    revoked_at: datetime | None = _timestamp(nullable=True)


class LoginFailure(SQLModel, table=True):
    """A failed sign-in: the SHA-256 of the lower-cased e-mail, or of the client address."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_at", "key", "at"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    at: datetime = _timestamp()


class AuditEntry(SQLModel, table=True):
    """Who did what, when, on whom. Append-only: a trigger refuses UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    at: datetime = _timestamp()
    account_id: int | None = _account_ref(nullable=True, ondelete="SET NULL")
    action: str = Field(sa_column=Column(String(64), nullable=False))
    target_type: str = Field(default="", sa_column=Column(String(32), nullable=False))
    target_id: str = Field(default="", sa_column=Column(Text, nullable=False))
    detail: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )


# -- broadcasts (migration 0007; the code is in `broadcasts/`) --------------------------------


class Broadcast(SQLModel, table=True):
    """A notice to families: its audience, its texts per language, and where it stands
    (draft -> scheduled -> sending -> sent, or cancelled)."""

    __tablename__ = "broadcast"
    __table_args__ = (Index("ix_broadcast_status_scheduled", "status", "scheduled_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    title: str = Field(sa_column=Column(Text, nullable=False))
    school_ids: list[int] = Field(sa_column=Column(ARRAY(BigInteger), nullable=False))
    audience: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    template: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    placeholders: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    texts: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    urgent: bool = Field(default=False, nullable=False)
    status: str = Field(
        default="draft", sa_column=Column(String(16), nullable=False, server_default="draft")
    )
    scheduled_at: datetime | None = _timestamp(nullable=True)
    created_by: int | None = _account_ref(nullable=True, ondelete="SET NULL")
    created_at: datetime = _timestamp()
    sent_at: datetime | None = _timestamp(nullable=True)


class BroadcastRecipient(SQLModel, table=True):
    """One family a notice went to (one message each, even in two targeted classes), or was
    not sent to and why (`skipped`: opted_out)."""

    __tablename__ = "broadcast_recipient"
    __table_args__ = (
        Index("ix_broadcast_recipient_contact", "contact_id"),
        CheckConstraint(
            "skipped = 'no_channel' OR (contact_id IS NOT NULL AND channel IS NOT NULL)",
            name="ck_broadcast_recipient_reachable",
        ),
    )

    broadcast_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("broadcast.id", ondelete="CASCADE"), primary_key=True
        )
    )
    family_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("family.id", ondelete="CASCADE"), primary_key=True)
    )
    # None for a family with no contact that can be reached (`skipped = 'no_channel'`, 0008).
    contact_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("contact.id", ondelete="CASCADE"), nullable=True),
    )
    school_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("school.id", ondelete="SET NULL"), nullable=True),
    )
    channel: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    language: str = Field(sa_column=Column(String(8), nullable=False))
    outbound_message_id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger, ForeignKey("outbound_message.id", ondelete="SET NULL"), nullable=True
        ),
    )
    skipped: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))


# -- the handover inbox (migration 0007; the code is in `staff/inbox.py`) -----------------------


class Handover(SQLModel, table=True):
    """A parent's conversation handed to a person of their school (None: the default team).
    One open per contact (a partial unique index)."""

    __tablename__ = "handover"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="ck_handover_status"),
        Index(
            "uq_handover_open",
            "contact_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_handover_school_status", "school_id", "status", "opened_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    contact_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False)
    )
    school_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("school.id", ondelete="SET NULL"), nullable=True),
    )
    status: str = Field(
        default="open", sa_column=Column(String(16), nullable=False, server_default="open")
    )
    # handover (the parent asked), fallbacks (twice not understood), notice_reply
    reason: str = Field(sa_column=Column(String(32), nullable=False))
    broadcast_id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger,
            ForeignKey("broadcast.id", ondelete="SET NULL", name="fk_handover_broadcast"),
            nullable=True,
        ),
    )
    assigned_to: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger, ForeignKey("staff_account.id", ondelete="SET NULL"), nullable=True
        ),
    )
    opened_at: datetime = _timestamp()
    closed_at: datetime | None = _timestamp(nullable=True)
