"""Route guards: signed in, and in the right role (R1). Object-level checks live in services' queries."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from app.web.runtime import current_user


def signed_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if current_user(connection) is None:
        raise NotAuthorizedException("Sign in to continue.")


def clinician_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    signed_in(connection, handler)
    if not current_user(connection).is_clinician:  # type: ignore[union-attr]
        raise PermissionDeniedException("This page is for clinicians.")


def client_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    signed_in(connection, handler)
    if not current_user(connection).is_client:  # type: ignore[union-attr]
        raise PermissionDeniedException("This page is for clients.")
