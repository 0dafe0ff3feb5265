"""A client's own records as a zip: sessions, charges and insurance as CSV, everything as JSON, and
the signed copy (PDF) of every document they signed and every intake they completed.

The same file for the client (from the portal: every practice they are a client of) and for a
clinician (one of their own clients). It holds what the client may see; the clinician's private
note is never in it. Each export writes an audit row per client record.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from app.domain.spreadsheets import csv_text
from app.domain.statuses import AppointmentStatus, ChargeStatus
from app.models.db import transaction
from app.models.tables import Appointment, Charge, Client, Clinician, InsurancePolicy
from app.services import audit, paperwork
from app.services.context import Actor
from app.services.errors import ExportNotFound


@dataclass(frozen=True)
class Export:
    filename: str
    content: bytes


def _iso(value: datetime | None) -> str:
    return value.astimezone(ZoneInfo("UTC")).isoformat() if value else ""


def _local(value: datetime | None, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone or "UTC")).strftime("%Y-%m-%d %H:%M") if value else ""


def _amount(minor: int | None) -> str:
    if minor is None:
        return ""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


def _label(enum, value: str) -> str:
    try:
        return enum(value).label
    except ValueError:
        return value


async def _records(client_ids: list[int], zone: str) -> dict:
    clients = await Client.select(
        Client.id,
        Client.name,
        Client.email,
        Client.phone,
        Client.billing_type,
        Client.coverage_status,
        Client.created_at,
        Client.archived_at,
        Client.clinician.practice_name,
        Client.clinician.insurance_email,
    ).where(Client.id.is_in(client_ids))
    practice_of = {row["id"]: row["clinician.practice_name"] for row in clients}
    appointments = (
        await Appointment.select(
            Appointment.id,
            Appointment.client,
            Appointment.starts_at,
            Appointment.duration_minutes,
            Appointment.kind,
            Appointment.status,
            Appointment.fee_minor,
            Appointment.currency,
        )
        .where(Appointment.client.is_in(client_ids))
        .order_by(Appointment.starts_at)
    )
    starts = {row["id"]: row["starts_at"] for row in appointments}
    charges = (
        await Charge.select(
            Charge.id,
            Charge.client,
            Charge.appointment,
            Charge.amount_minor,
            Charge.currency,
            Charge.status,
            Charge.due_at,
            Charge.succeeded_at,
            Charge.refunded_minor,
            Charge.failure_message,
        )
        .where(Charge.client.is_in(client_ids))
        .order_by(Charge.due_at)
    )
    policies = await InsurancePolicy.select(
        InsurancePolicy.client,
        InsurancePolicy.payer,
        InsurancePolicy.member_id,
        InsurancePolicy.group_number,
        InsurancePolicy.subscriber_name,
        InsurancePolicy.subscriber_relationship,
        InsurancePolicy.copay_minor,
        InsurancePolicy.plan_notes,
        InsurancePolicy.updated_at,
    ).where(InsurancePolicy.client.is_in(client_ids))
    policy_of = {row["client"]: row for row in policies}
    return {
        "time_zone": zone,
        "clients": [
            {
                "practice": row["clinician.practice_name"],
                "practice_insurance_email": row["clinician.insurance_email"],
                "name": row["name"],
                "email": row["email"],
                "phone": row["phone"],
                "billing_type": row["billing_type"],
                "coverage_status": row["coverage_status"],
                "client_since": _iso(row["created_at"]),
                "archived_at": _iso(row["archived_at"]),
                "insurance": (
                    {
                        "payer": policy["payer"],
                        "member_id": policy["member_id"],
                        "group_number": policy["group_number"],
                        "subscriber_name": policy["subscriber_name"],
                        "subscriber_relationship": policy["subscriber_relationship"],
                        "copay": _amount(policy["copay_minor"]),
                        "plan_notes": policy["plan_notes"],
                        "updated_at": _iso(policy["updated_at"]),
                    }
                    if (policy := policy_of.get(row["id"]))
                    else None
                ),
            }
            for row in clients
        ],
        "sessions": [
            {
                "practice": practice_of.get(row["client"], ""),
                "starts_at_utc": _iso(row["starts_at"]),
                "starts_at_local": _local(row["starts_at"], zone),
                "minutes": row["duration_minutes"],
                "kind": row["kind"],
                "status": _label(AppointmentStatus, row["status"]),
                "fee": _amount(row["fee_minor"]),
                "currency": row["currency"],
            }
            for row in appointments
        ],
        "charges": [
            {
                "practice": practice_of.get(row["client"], ""),
                "session_local": _local(starts.get(row["appointment"]), zone),
                "amount": _amount(row["amount_minor"]),
                "currency": row["currency"],
                "status": _label(ChargeStatus, row["status"]),
                "due_at_utc": _iso(row["due_at"]),
                "paid_at_utc": _iso(row["succeeded_at"]),
                "refunded": _amount(row["refunded_minor"]),
                "failure": row["failure_message"],
            }
            for row in charges
        ],
    }


SESSION_HEADER = [
    "practice",
    "starts_at_utc",
    "starts_at_local",
    "minutes",
    "kind",
    "status",
    "fee",
    "currency",
]
CHARGE_HEADER = [
    "practice",
    "session_local",
    "amount",
    "currency",
    "status",
    "due_at_utc",
    "paid_at_utc",
    "refunded",
    "failure",
]


def _csv(rows: list[dict], header: list[str]) -> str:
    return csv_text(header, ([row[name] for name in header] for row in rows))


def _zip(records: dict, now: datetime, copies: list[paperwork.Copy]) -> bytes:
    insurance_rows = [
        {
            "practice": c["practice"],
            "billing_type": c["billing_type"],
            "coverage_status": c["coverage_status"],
        }
        | {key: value for key, value in (c["insurance"] or {}).items()}
        for c in records["clients"]
    ]
    insurance_header = [
        "practice",
        "billing_type",
        "coverage_status",
        "payer",
        "member_id",
        "group_number",
        "subscriber_name",
        "subscriber_relationship",
        "copay",
        "plan_notes",
        "updated_at",
    ]
    for row in insurance_rows:
        for name in insurance_header:
            row.setdefault(name, "")
    files = {
        "README.txt": (
            f"Your Stillwater records, exported {now.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M} UTC.\n"
            f"sessions.csv - every session; times in {records['time_zone']} and UTC.\n"
            "charges.csv - every charge, its status and any refund.\n"
            "insurance.csv - billing type, coverage status and insurance details per practice.\n"
            "records.json - all of the above in one machine-readable file.\n"
            "signed/ - the signed copy (PDF) of each document signed and each intake questionnaire.\n"
        ),
        "sessions.csv": _csv(records["sessions"], SESSION_HEADER),
        "charges.csv": _csv(records["charges"], CHARGE_HEADER),
        "insurance.csv": _csv(insurance_rows, insurance_header),
        "records.json": json.dumps(records, indent=2, ensure_ascii=False),
    }
    buffer = io.BytesIO()
    stamp = now.astimezone(ZoneInfo("UTC")).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), text.encode("utf-8"))
        for copy in copies:
            archive.writestr(zipfile.ZipInfo(f"signed/{copy.filename}", date_time=stamp), copy.content)
    return buffer.getvalue()


async def _export(client_ids: list[int], zone: str, *, by: str, now: datetime, actor: Actor) -> Export:
    records = await _records(client_ids, zone)
    content = _zip(records, now, await paperwork.copies_for(client_ids))
    practices = await Client.select(Client.id, Client.clinician).where(Client.id.is_in(client_ids))
    async with transaction():
        for row in practices:
            await audit.client_event(
                "records_exported", row["id"], row["clinician"], actor=actor, at=now, detail=f"by {by}"
            )
    return Export(f"stillwater-records-{now:%Y-%m-%d}.zip", content)


async def for_client_user(user_id: int, time_zone: str, *, now: datetime, actor: Actor) -> Export:
    """The signed-in client's records with every practice they are a client of."""
    rows = await Client.select(Client.id).where(Client.user == user_id).order_by(Client.id)
    if not rows:
        raise ExportNotFound()
    return await _export([row["id"] for row in rows], time_zone, by="client", now=now, actor=actor)


async def for_clinician(clinician_id: int, client_id: int, *, now: datetime, actor: Actor) -> Export:
    """One of the clinician's own clients' records (the same file the client gets)."""
    row = (
        await Client.select(Client.id)
        .where((Client.id == client_id) & (Client.clinician == clinician_id))
        .first()
    )
    if row is None:
        raise ExportNotFound()
    zone = await Clinician.select(Clinician.time_zone).where(Clinician.id == clinician_id).first()
    return await _export([client_id], zone["time_zone"], by="clinician", now=now, actor=actor)
