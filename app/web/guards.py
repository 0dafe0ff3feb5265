"""Route guards: signed in, and in the right role (R1). Object-level checks live in services' queries."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

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


async def clinician_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if not _user_or_refuse(connection).is_clinician:
        raise PermissionDeniedException("This page is for clinicians.")
    session = current_session(connection)
    if session is not None and session.must_enrol_two_factor:
        raise TwoFactorEnrolmentRequired()


async def member_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Any member of a practice (owner, clinician or front desk); what their role allows is the service's."""
    if not _user_or_refuse(connection).is_member:
        raise PermissionDeniedException("This page is for the practice's members.")
    session = current_session(connection)
    if session is not None and session.must_enrol_two_factor:
        raise TwoFactorEnrolmentRequired()


async def client_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if not _user_or_refuse(connection).is_client:
        raise PermissionDeniedException("This page is for clients.")
