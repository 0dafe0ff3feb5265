"""Route guards: signed in, and in the right role (R1). Object-level checks live in services' queries."""

from __future__ import annotations

from dataclasses import replace

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from app.domain.members import MemberRole
from app.domain.validation import record_id
from app.services import practices
from app.services.context import CurrentUser
from app.web.runtime import current_session, current_user

ENROL_URL = "/account/security/two-factor"


class TwoFactorEnrolmentRequired(Exception):
    """The practice requires two-factor sign-in and this clinician has not set it up yet."""


def _user_or_refuse(connection: ASGIConnection) -> CurrentUser:
    user = current_user(connection)
    if user is None:
        raise NotAuthorizedException("Sign in to continue.")
    return user


# Guards are async on purpose: Litestar runs a sync guard in a worker thread on every request.


async def signed_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    _user_or_refuse(connection)


# The clinician pages the front desk may open: what booking needs (R12) — calendars, sessions and their
# statuses, clients, their invitations and a bounced address tried again. Insurance, notes, forms and
# intake answers, charges and refunds, the report, the trail, settings and exports answer 403; so does
# the clinician's edit form (it carries the private note): the front desk edits name, email and phone
# on the contact form. Keyed by (method, route path without parameter types, Litestar's ``path_template``).
FRONT_DESK_PAGES = frozenset(
    {
        ("GET", "/calendar"),
        ("GET", "/calendar/practice"),
        ("GET", "/calendar/needs-status"),
        ("GET", "/calendar/needs-status/count"),
        ("POST", "/calendar/privacy"),
        ("GET", "/appointments/new"),
        ("POST", "/appointments"),
        ("GET", "/appointments/client-options"),
        ("GET", "/appointments/{appointment_id}"),
        ("POST", "/appointments/{appointment_id}/status"),
        ("GET", "/appointments/{appointment_id}/reschedule"),
        ("POST", "/appointments/{appointment_id}/reschedule"),
        ("GET", "/appointments/{appointment_id}/book-next"),
        ("POST", "/appointments/{appointment_id}/book-next"),
        ("GET", "/appointments/{appointment_id}/series"),
        ("POST", "/appointments/{appointment_id}/series"),
        ("POST", "/appointments/{appointment_id}/series/cancel"),
        ("GET", "/clients"),
        ("GET", "/clients/new"),
        ("POST", "/clients/new"),
        ("GET", "/clients/{client_id}"),
        ("POST", "/clients/{client_id}/invite"),
        ("POST", "/clients/{client_id}/email-retry"),
        ("GET", "/clients/{client_id}/sessions"),
        ("GET", "/clients/{client_id}/contact"),
        ("POST", "/clients/{client_id}/contact"),
    }
)


def front_desk_may_open(connection: ASGIConnection) -> bool:
    return (
        connection.scope.get("method", "GET"),
        connection.scope.get("path_template", ""),
    ) in FRONT_DESK_PAGES


async def clinician_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A member working in a clinician's calendar; the front desk only on the pages booking needs."""
    user = _user_or_refuse(connection)
    if not user.is_clinician:
        raise PermissionDeniedException("This page is for clinicians.")
    if not user.sees_clinical_details and not front_desk_may_open(connection):
        raise PermissionDeniedException("The front desk doesn't open this page.")
    session = current_session(connection)
    if session is not None and session.must_enrol_two_factor:
        raise TwoFactorEnrolmentRequired()


async def in_the_record_s_calendar(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """On a client's or a session's page, a member who may see it works in the calendar that holds it:
    the owner and the front desk open a colleague's client or session without switching calendars."""
    user = current_user(connection)
    params = connection.path_params
    if user is None or not ({"client_id", "appointment_id"} & params.keys()):
        return
    client_id, appointment_id = params.get("client_id"), params.get("appointment_id")
    if any(raw is not None and record_id(raw) is None for raw in (client_id, appointment_id)):
        return  # not a record id at all: the before-request hook answers not found
    seat = await practices.seat_holding(user, client_id=client_id, appointment_id=appointment_id)
    if seat is not None and seat != user.clinician_id:
        connection.scope["user"] = replace(user, clinician_id=seat)  # type: ignore[typeddict-unknown-key]


async def member_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Any member of a practice (owner, clinician or front desk); what their role allows is the service's."""
    if not _user_or_refuse(connection).is_member:
        raise PermissionDeniedException("This page is for the practice's members.")
    session = current_session(connection)
    if session is not None and session.must_enrol_two_factor:
        raise TwoFactorEnrolmentRequired()


async def owner_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The practice's owner: its documents and intake questions are practice settings (R12)."""
    if _user_or_refuse(connection).member_role != MemberRole.OWNER.value:
        raise PermissionDeniedException("Only the practice's owner changes this.")


async def client_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if not _user_or_refuse(connection).is_client:
        raise PermissionDeniedException("This page is for clients.")
