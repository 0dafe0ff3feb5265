"""The first-meeting checklist (R7), derived from facts.

Up to seven items per client, all read from data every time (never stored, so they can't drift): the
client set a password, signed the practice's documents (only when it has some), completed the intake
questionnaire, saved a card; their intro session was marked Occurred, a later session is booked; and
the clinician recorded a coverage status. Any open item can be marked "not applicable" with a reason;
that is the only thing stored for the checklist itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.domain.statuses import AppointmentStatus, CoverageStatus

MAX_REASON = 500


class Item(StrEnum):
    PORTAL = "portal_access"
    DOCUMENTS = "documents_signed"
    INTAKE = "intake_complete"
    CARD = "card_saved"
    INTRO = "intro_occurred"
    NEXT = "next_booked"
    INSURANCE = "insurance_discussed"

    @property
    def label(self) -> str:
        return ITEM_LABELS[self]


ITEM_LABELS = {
    Item.PORTAL: "Portal access confirmed",
    Item.DOCUMENTS: "Documents signed",
    Item.INTAKE: "Intake questionnaire complete",
    Item.CARD: "Card saved",
    Item.INTRO: "Intro session marked Occurred",
    Item.NEXT: "Next session booked",
    Item.INSURANCE: "Insurance coverage discussed",
}

# A session that took (or may still take) place; cancelled and missed ones don't count as the intro.
MAY_BE_INTRO = frozenset({AppointmentStatus.SCHEDULED, AppointmentStatus.OCCURRED})


@dataclass(frozen=True)
class Session:
    id: int
    starts_at: datetime
    status: str
    created_at: datetime | None = None
    created_by: int | None = None
    status_changed_at: datetime | None = None
    occurred_by: int | None = None


@dataclass(frozen=True)
class NotApplicable:
    reason: str
    by: int | None
    at: datetime


@dataclass(frozen=True)
class Facts:
    """Everything the checklist of one client is derived from."""

    client_user_id: int | None
    password_set_at: datetime | None
    has_password: bool
    sessions: tuple[Session, ...] = ()
    coverage_status: str = CoverageStatus.NOT_DISCUSSED.value
    coverage_updated_at: datetime | None = None
    coverage_updated_by: int | None = None
    not_applicable: dict[str, NotApplicable] = field(default_factory=dict)
    documents_to_sign: int | None = None  # None: the practice asks for no documents
    documents_signed_at: datetime | None = None
    intake_at: datetime | None = None
    card_saved_at: datetime | None = None


@dataclass(frozen=True)
class ItemState:
    item: Item
    done: bool
    at: datetime | None = None
    by: int | None = None
    session: Session | None = None
    not_applicable: NotApplicable | None = None

    @property
    def open(self) -> bool:
        return not self.done and self.not_applicable is None


@dataclass(frozen=True)
class Checklist:
    items: tuple[ItemState, ...]
    book_next_from: Session | None = None

    @property
    def open_count(self) -> int:
        return sum(1 for state in self.items if state.open)

    def __getitem__(self, item: str) -> ItemState:
        return next(state for state in self.items if state.item == item)


def intro_session(sessions: tuple[Session, ...] | list[Session]) -> Session | None:
    """The first session that took or may take place (a cancelled or missed one is skipped)."""
    candidates = [s for s in sessions if s.status in MAY_BE_INTRO]
    return min(candidates, key=lambda s: (s.starts_at, s.id), default=None)


def next_session(sessions, intro: Session | None, now: datetime) -> Session | None:
    """The earliest future, still-Scheduled session after the intro."""
    later = [
        s
        for s in sessions
        if s.status == AppointmentStatus.SCHEDULED
        and s.starts_at > now
        and (intro is None or (s.id != intro.id and s.starts_at > intro.starts_at))
    ]
    return min(later, key=lambda s: (s.starts_at, s.id), default=None)


def book_next_anchor(sessions, now: datetime) -> Session | None:
    """Where "Book next" starts from: the most recent session that has started, else the first one."""
    past = [s for s in sessions if s.starts_at <= now]
    if past:
        return max(past, key=lambda s: (s.starts_at, s.id))
    return min(sessions, key=lambda s: (s.starts_at, s.id), default=None)


def _by_client(item: Item, done: bool, at: datetime | None, facts: Facts) -> ItemState:
    """An item the client does themselves (documents, intake, card)."""
    return ItemState(
        item,
        done,
        at=at if done else None,
        by=facts.client_user_id if done else None,
        not_applicable=None if done else facts.not_applicable.get(item),
    )


def derive(facts: Facts, now: datetime) -> Checklist:
    """The items' states from ``facts``; a done item ignores any "not applicable" mark."""
    na = facts.not_applicable
    intro = intro_session(facts.sessions)
    following = next_session(facts.sessions, intro, now)
    occurred = intro is not None and intro.status == AppointmentStatus.OCCURRED
    discussed = facts.coverage_status != CoverageStatus.NOT_DISCUSSED.value
    documents = (
        (_by_client(Item.DOCUMENTS, facts.documents_to_sign == 0, facts.documents_signed_at, facts),)
        if facts.documents_to_sign is not None
        else ()
    )
    states = (
        ItemState(
            Item.PORTAL,
            facts.has_password,
            at=facts.password_set_at,
            by=facts.client_user_id,
            not_applicable=None if facts.has_password else na.get(Item.PORTAL),
        ),
        *documents,
        _by_client(Item.INTAKE, facts.intake_at is not None, facts.intake_at, facts),
        _by_client(Item.CARD, facts.card_saved_at is not None, facts.card_saved_at, facts),
        ItemState(
            Item.INTRO,
            occurred,
            at=intro.status_changed_at if occurred else None,
            by=intro.occurred_by if occurred else None,
            session=intro,
            not_applicable=None if occurred else na.get(Item.INTRO),
        ),
        ItemState(
            Item.NEXT,
            following is not None,
            at=following.created_at if following else None,
            by=following.created_by if following else None,
            session=following,
            not_applicable=None if following else na.get(Item.NEXT),
        ),
        ItemState(
            Item.INSURANCE,
            discussed,
            at=facts.coverage_updated_at if discussed else None,
            by=facts.coverage_updated_by if discussed else None,
            not_applicable=None if discussed else na.get(Item.INSURANCE),
        ),
    )
    return Checklist(states, book_next_anchor(facts.sessions, now))


def reason_problem(reason: str) -> str | None:
    """Why a "not applicable" reason can't be saved, or None."""
    if not reason.strip():
        return "Say why this doesn't apply, so you remember later."
    if len(reason.strip()) > MAX_REASON:
        return f"Keep the reason under {MAX_REASON} characters."
    return None
