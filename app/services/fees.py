"""Fee policy and agreement use cases (R4): the practice's policy, the client's agreement to its
current words, and whether a late cancel or no-show owes a fee."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain import fees as rules
from app.domain.members import Ability
from app.domain.statuses import AppointmentStatus
from app.domain.statuses import ChargeKind as K
from app.models.tables import Appointment, Client, Clinician, FeeAgreement, Practice
from app.services import audit
from app.services.context import Actor, CurrentUser
from app.services.errors import PracticeNotFound
from app.services.practices import require


def policy_of(practice: Practice) -> rules.FeePolicy | None:
    """The practice's fee policy, or None when it charges neither fee."""
    policy = rules.FeePolicy(
        window_hours=practice.cancellation_window_hours,
        late_cancel=rules.FeeRule(practice.late_cancel_fee_minor, practice.late_cancel_fee_percent),
        no_show=rules.FeeRule(practice.no_show_fee_minor, practice.no_show_fee_percent),
        free_late_cancels=practice.free_late_cancels,
        note=practice.fee_policy_note or "",
    )
    charges_any = any(rule.percent or rule.amount_minor for rule in (policy.late_cancel, policy.no_show))
    return policy if charges_any else None


def current_text(practice: Practice) -> tuple[str, str] | None:
    """The policy's words and their version, or None when the practice charges no fees."""
    policy = policy_of(practice)
    if policy is None:
        return None
    text = rules.policy_text(practice.name, policy, practice.currency)
    return text, rules.text_version(text)


@dataclass(frozen=True)
class PolicyChoice:
    """What the owner sets on the fee policy screen (the window stays in the booking settings)."""

    late_cancel: rules.FeeRule
    no_show: rules.FeeRule
    free_late_cancels: int
    note: str
    free_reschedule: bool


async def practice_for(member: CurrentUser) -> Practice:
    """The owner's practice, to read or change its fee policy; ``NotAllowed`` for anyone else."""
    require(member, Ability.CHANGE_PRACTICE_SETTINGS)
    practice = await Practice.objects().where(Practice.id == member.practice_id).first()
    if practice is None:
        raise PracticeNotFound(member.practice_id)
    return practice


async def save_policy(
    member: CurrentUser, choice: PolicyChoice, *, now: datetime, actor: Actor
) -> str | None:
    """Change the fee policy; new words are a new version, which clients agree to before their next
    booking (until then no fee is charged to them). Returns the version in force, None for no fees."""
    practice = await practice_for(member)
    before = current_text(practice)
    columns = {
        Practice.late_cancel_fee_minor: choice.late_cancel.amount_minor or 0,
        Practice.late_cancel_fee_percent: choice.late_cancel.percent,
        Practice.no_show_fee_minor: choice.no_show.amount_minor or 0,
        Practice.no_show_fee_percent: choice.no_show.percent,
        Practice.free_late_cancels: choice.free_late_cancels,
        Practice.fee_policy_note: choice.note,
        Practice.fee_free_reschedule: choice.free_reschedule,
    }
    await Practice.update(columns).where(Practice.id == practice.id)
    after = current_text(await practice_for(member))
    versions = [current[1] if current else "none" for current in (before, after)]
    await audit.record(
        "fee_policy_changed",
        actor=actor,
        at=now,
        object_type="practice",
        object_id=practice.id,
        detail="version " + " -> ".join(versions),
    )
    return after[1] if after else None


async def agreed_count(practice_id: int, version: str) -> int:
    """How many clients agreed to this version of the words."""
    return await FeeAgreement.count().where(
        (FeeAgreement.practice == practice_id) & (FeeAgreement.version == version)
    )


async def agreed_versions(client_id: int, practice_id: int) -> list[str]:
    rows = await FeeAgreement.select(FeeAgreement.version).where(
        (FeeAgreement.client == client_id) & (FeeAgreement.practice == practice_id)
    )
    return [row["version"] for row in rows]


async def record_agreement(
    client_id: int,
    practice: Practice,
    *,
    now: datetime,
    address: str,
    via: str,
    actor: Actor,
    shown_version: str | None = None,
) -> str | None:
    """Store that the client agreed to the words shown now (invitation, booking, or before the next
    booking after a change); returns the version, or None when there is no policy to agree to, or the
    words changed since the page showed ``shown_version`` (they have not seen the new ones)."""
    current = current_text(practice)
    if current is None or (shown_version is not None and shown_version != current[1]):
        return None
    text, version = current
    if version in await agreed_versions(client_id, practice.id):
        return version
    await FeeAgreement.insert(
        FeeAgreement(
            client=client_id,
            practice=practice.id,
            version=version,
            text=text,
            agreed_at=now,
            address=address[:64],
            via=via,
        )
    )
    await audit.record(
        "fee_policy_agreed",
        actor=actor,
        at=now,
        object_type="client",
        object_id=client_id,
        client_id=client_id,
        detail=f"version {version} via {via}",
    )
    return version


async def practice_of(appointment: Appointment) -> Practice | None:
    clinician = await Clinician.objects().where(Clinician.id == appointment.clinician).first()
    if clinician is None or clinician.practice is None:
        return None
    return await Practice.objects().where(Practice.id == clinician.practice).first()


async def earlier_late_cancels(appointment: Appointment) -> list[datetime]:
    """When the client's other late-cancelled sessions were due to start (the grace rule counts them)."""
    rows = await Appointment.select(Appointment.starts_at).where(
        (Appointment.client == appointment.client)
        & (Appointment.id != appointment.id)
        & (Appointment.status == AppointmentStatus.LATE_CANCELLED)
        & (Appointment.starts_at < appointment.starts_at)
    )
    return [row["starts_at"] for row in rows]


async def decide(appointment: Appointment, kind: K) -> rules.FeeDecision:
    """Whether this late-cancelled or missed session owes a fee under the policy the client agreed to."""
    practice = await practice_of(appointment)
    if practice is None:
        return rules.decide_fee(
            kind, None, 0, current_version=None, agreed_versions=(), at=appointment.starts_at
        )
    client = await Client.objects().where(Client.id == appointment.client).first()
    current = current_text(practice)
    return rules.decide_fee(
        kind,
        policy_of(practice),
        appointment.fee_minor,
        current_version=current[1] if current else None,
        agreed_versions=await agreed_versions(appointment.client, practice.id),
        exemption_reason=client.fee_exemption if client else None,
        earlier_late_cancels=await earlier_late_cancels(appointment),
        at=appointment.starts_at,
    )


async def practice_by_id(practice_id: int | None) -> Practice | None:
    if practice_id is None:
        return None
    return await Practice.objects().where(Practice.id == practice_id).first()


async def words_for_clinician(clinician_id: int) -> tuple[str, str] | None:
    """The fee policy's words and version a visitor booking with this clinician agrees to."""
    row = await Clinician.select(Clinician.practice).where(Clinician.id == clinician_id).first()
    practice = await practice_by_id(row["practice"] if row else None)
    return current_text(practice) if practice else None


async def words_to_agree(client_id: int) -> tuple[str, str] | None:
    """The words and version this client has yet to agree to (before booking), or None: none to agree."""
    client = await Client.select(Client.practice).where(Client.id == client_id).first()
    practice = await practice_by_id(client["practice"] if client else None)
    current = current_text(practice) if practice else None
    if current is None or current[1] in await agreed_versions(client_id, practice.id):
        return None
    return current


async def agree(
    client_id: int, shown_version: str, *, now: datetime, address: str, via: str, actor: Actor
) -> str | None:
    """The client ticked "I agree" under the words of ``shown_version``: store it if they are current."""
    client = await Client.select(Client.practice).where(Client.id == client_id).first()
    practice = await practice_by_id(client["practice"] if client else None)
    if practice is None or not shown_version:
        return None
    return await record_agreement(
        client_id, practice, now=now, address=address, via=via, actor=actor, shown_version=shown_version
    )
