"""Route guards: signed in, and in the right role (R1). Object-level checks live in services' queries."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from app.web.runtime import current_session, current_user

ENROL_URL = "/account/security/two-factor"


class TwoFactorEnrolmentRequired(Exception):
    """The practice requires two-factor sign-in and this clinician has not set it up yet."""


def signed_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if current_user(connection) is None:
        raise NotAuthorizedException("Sign in to continue.")


def clinician_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    signed_in(connection, handler)
    if not current_user(connection).is_clinician:  # type: ignore[union-attr]
        raise PermissionDeniedException("This page is for clinicians.")
    session = current_session(connection)
    if session is not None and session.must_enrol_two_factor:
        raise TwoFactorEnrolmentRequired()


def client_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    signed_in(connection, handler)
    if not current_user(connection).is_client:  # type: ignore[union-attr]
        raise PermissionDeniedException("This page is for clients.")
