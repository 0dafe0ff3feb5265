"""The application factory: ``create_app(settings)`` wires templates, security, sessions and routes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from app.clock import Clock, clock_starting_at
from app.config import ROOT, Settings
from app.domain.practice import format_money, money_input
from app.logs import configure_logging
from app.models.db import engine, start_pool
from app.services import queue as job_queue
from app.services.sessions import SessionStore
from app.web.appointments import AppointmentController
from app.web.audit import AuditController
from app.web.auth import AuthController
from app.web.booking import BOOKING_HANDLERS
from app.web.calendar import CalendarController
from app.web.charges import AppointmentChargeController, PortalCardController, clinician_receipt
from app.web.checklist import ChecklistController
from app.web.clients import ClientsController
from app.web.csrf import CsrfMiddleware
from app.web.errors import EXCEPTION_HANDLERS, reject_impossible_ids
from app.web.exports import client_export, portal_export
from app.web.fees import FeePolicyController
from app.web.imports import ImportsController
from app.web.invitations import InvitationsController
from app.web.late_cancel import LateCancelController
from app.web.metrics import ObserveRequests, metrics
from app.web.middleware import AnswerHead, RequestChecks, SessionMiddleware
from app.web.paperwork import DocumentsController, PortalFormsController
from app.web.portal import PortalController
from app.web.practice import JoinController, PracticeController
from app.web.report import ReportController, chart_bars
from app.web.runtime import REQUEST_DEPENDENCIES, Runtime
from app.web.security import SecurityController
from app.web.series import SeriesController
from app.web.session_links import SessionLinkController
from app.web.stripe import stripe_webhook
from app.web.superbills import BillingSetupController, ClientBillingController, PortalSuperbillsController
from app.web.system import DevMailboxController, email_events, healthz
from app.web.texts import text_replies

HTMX_CONFIG = {
    "historyCacheSize": 0,  # never keep page HTML (health data) in localStorage
    "refreshOnHistoryMiss": True,
    "historyRestoreAsHxRequest": False,
    "allowEval": False,
    "allowScriptTags": False,
    "includeIndicatorStyles": False,
    # Wire new content the moment it is swapped in (htmx waits 20 ms by default): a tap in that gap
    # followed a plain link out of the sheet instead of opening the next form in it.
    "defaultSettleDelay": 0,
    "selfRequestsOnly": True,
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "422", "swap": True},
        {"code": "503", "swap": True, "error": True},  # "temporarily unavailable" into the flash area
        {"code": "[45]..", "swap": False, "error": True},
    ],
}


def local_time(value: datetime | None, zone: str = "UTC", fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """Format a UTC timestamp in a person's time zone (R9)."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(zone or "UTC")).strftime(fmt)


def configure_templates(settings: Settings):
    def callback(template_engine) -> None:
        env = template_engine.engine
        # Outside debug, templates don't change while the app runs: skip the file check (a stat per
        # template and per include, every render) that Jinja does by default.
        env.auto_reload = settings.debug
        env.globals.update(
            htmx_config=json.dumps(HTMX_CONFIG),
            debug=settings.debug,
            app_name="Stillwater",
        )
        env.filters.update(
            money=format_money, money_input=money_input, local_time=local_time, chart_bars=chart_bars
        )

    return TemplateConfig(directory=ROOT / "templates", engine=JinjaTemplateEngine, engine_callback=callback)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Litestar:
    """The app for ``settings``. It runs on ``app.state.clock`` (``clock``, or the real time from
    ``CLOCK_START``), read each time the app starts: the tests build one app per process, which takes
    over a second, and start it on each test's own clock."""
    settings = settings or Settings.from_env()
    settings.check()
    clock = clock or clock_starting_at(settings.clock_start)
    configure_logging(settings.debug)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        redis = await job_queue.connect(settings)
        pooled = settings.is_postgres and settings.use_db_pool
        if pooled:
            await start_pool(min_size=1, max_size=10)
        app.state.runtime = Runtime(
            settings=settings,
            clock=app.state.clock,
            redis=redis,
            queue=job_queue.JobQueue(redis, settings.queue_name),
            sessions=SessionStore(redis, app.state.clock, settings),
        )
        try:
            yield
        finally:
            if pooled:
                await engine().close_connection_pool()
            await redis.aclose()

    handlers = [
        AuthController,
        SecurityController,
        FeePolicyController,
        LateCancelController,
        AuditController,
        portal_export,
        client_export,
        DevMailboxController,
        healthz,
        metrics,
        email_events,
        stripe_webhook,
        text_replies,
        CalendarController,
        AppointmentController,
        AppointmentChargeController,
        clinician_receipt,
        ClientsController,
        InvitationsController,
        PortalController,
        PortalCardController,
        ReportController,
        *BOOKING_HANDLERS,
        SeriesController,
        ChecklistController,
        PortalSuperbillsController,
        BillingSetupController,
        ClientBillingController,
        PracticeController,
        JoinController,
        ImportsController,
        DocumentsController,
        PortalFormsController,
        SessionLinkController,
        create_static_files_router(path="/static", directories=[ROOT / "static"], name="static"),
    ]
    application = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        dependencies=REQUEST_DEPENDENCIES,
        template_config=configure_templates(settings),
        middleware=[
            RequestChecks(settings),
            SessionMiddleware(),
            CsrfMiddleware(),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=reject_impossible_ids,
        compression_config=CompressionConfig(backend="gzip", minimum_size=500, gzip_compress_level=6),
        debug=False,
        openapi_config=None,
        logging_config=None,  # app.logs sets logging up
    )
    application.state.clock = clock
    application.asgi_handler = AnswerHead(ObserveRequests(application.asgi_handler))
    return application
