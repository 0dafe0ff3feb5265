"""Online booking pages: the practice's booking settings, the public page ``/book/<slug>`` (no sign-in,
rate-limited, with a honeypot), booking and cancelling from the portal, and the calendar feed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException, TooManyRequestsException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Template

from app.config import Settings
from app.domain.accounts import time_zone_names, valid_time_zone
from app.domain.availability import format_day_ranges, parse_day_ranges
from app.domain.calendar import MAX_SESSION_MINUTES
from app.domain.checkin import parse_video_link
from app.domain.practice import DEFAULT_FEE_CEILING, MAX_FEE_CEILING, format_money
from app.domain.reminders import format_hours, parse_hours
from app.domain.validation import Form, record_id, year_problem
from app.services import availability, booking, fees, notices, throttle
from app.services.availability import PracticeBooking
from app.services.booking import TAKEN, BookingClosed, BookingSettings, CancelRefused, SlotTaken, Visitor
from app.services.clients import ClientError
from app.services.context import CurrentUser
from app.services.reminders import practice_hours
from app.web.fees import agreed_fee_version
from app.web.guards import client_only, clinician_only
from app.web.htmx import flash, redirect, render
from app.web.runtime import AppRuntime, Context, Now, RequestContext, Runtime, User, client_ip

FormBody = URLEncodedBody[dict[str, Any]]
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SLOT_FORMAT = "%Y-%m-%dT%H:%MZ"
DAYS_SHOWN = 7
BILLING_CHOICES = {"self_pay": "I'll pay myself", "insurance": "I'd like to use insurance"}
KIND_LABELS = {"intro": "Intro call", "regular": "Session"}
PAGE_VIEWS_PER_10_MIN = 120
BOOKINGS_PER_HOUR = 8


# --- Settings -------------------------------------------------------------------------------------


def _settings_values(practice: PracticeBooking, ranges) -> dict[str, str]:
    """The settings form's values for the practice as it is."""
    values: dict[str, Any] = {
        "default_session_minutes": practice.default_session_minutes,
        "default_fee": format_money(practice.default_fee_minor, practice.currency)[1:],
        "buffer_minutes": practice.buffer_minutes,
        "min_notice_hours": practice.min_notice_hours,
        "horizon_days": practice.horizon_days,
        "intro_session_minutes": practice.intro_session_minutes,
        "intro_fee": format_money(practice.intro_fee_minor, practice.currency)[1:],
        "cancellation_window_hours": practice.cancellation_window_hours,
        "max_fee": format_money(practice.max_fee_minor, practice.currency)[1:],
        "booking_enabled": practice.booking_enabled,
        "new_clients_may_book": practice.new_clients_may_book,
        "calendar_feed_enabled": practice.calendar_feed_enabled,
        "reminder_hours": format_hours(practice_hours(practice.reminder_hours)),
        "video_link": practice.video_link,
        "evening_summary": practice.evening_summary,
    }
    for weekday in range(7):
        values[f"hours_{weekday}"] = format_day_ranges(ranges, weekday)
    return {k: str(v) for k, v in values.items()}


def _settings_from(form: Form, practice: PracticeBooking) -> tuple[BookingSettings, list]:
    """The settings and working hours the form describes, with a message next to every bad field."""
    ranges = []
    for weekday in range(7):
        found, problem = parse_day_ranges(form.data.get(f"hours_{weekday}", ""), weekday)
        if problem:
            form.error(f"hours_{weekday}", problem)
        ranges += found

    ceiling = form.money(
        "max_fee",
        label="highest fee",
        ceiling=MAX_FEE_CEILING,
        currency=practice.currency,
        required=False,
    )
    if ceiling is None:
        ceiling = DEFAULT_FEE_CEILING if "max_fee" not in form.errors else MAX_FEE_CEILING

    def money(name: str, label: str) -> int:
        return form.money(name, label=label, ceiling=ceiling, currency=practice.currency) or 0

    reminder_hours, problem = parse_hours(form.text("reminder_hours", label="Reminders", required=False))
    if problem:
        form.error("reminder_hours", problem)
    video_link, problem = parse_video_link(form.data.get("video_link", ""))
    if problem:
        form.error("video_link", problem)
    values = BookingSettings(
        default_session_minutes=form.integer(
            "default_session_minutes", label="Session length", minimum=5, maximum=MAX_SESSION_MINUTES
        ),
        default_fee_minor=money("default_fee", "session fee"),
        buffer_minutes=form.integer("buffer_minutes", label="Buffer", minimum=0, maximum=240),
        min_notice_hours=form.integer("min_notice_hours", label="Minimum notice", minimum=0, maximum=24 * 30),
        horizon_days=form.integer("horizon_days", label="Booking horizon", minimum=1, maximum=365),
        booking_enabled=form.checkbox("booking_enabled"),
        new_clients_may_book=form.checkbox("new_clients_may_book"),
        intro_session_minutes=form.integer(
            "intro_session_minutes", label="Intro length", minimum=0, maximum=240
        ),
        intro_fee_minor=money("intro_fee", "intro fee"),
        cancellation_window_hours=form.integer(
            "cancellation_window_hours", label="Cancellation window", minimum=0, maximum=24 * 14
        ),
        calendar_feed_enabled=form.checkbox("calendar_feed_enabled"),
        max_fee_minor=ceiling,
        reminder_hours=format_hours(reminder_hours),
        video_link=video_link,
        evening_summary=form.checkbox("evening_summary"),
    )
    return values, ranges


class BookingSettingsController(Controller):
    path = "/settings/booking"
    guards = [clinician_only]

    async def _page(
        self, request: Request, settings: Settings, practice: PracticeBooking, values, errors
    ) -> Template:
        return await render(
            request,
            "booking/settings.html",
            {
                "practice": practice,
                "values": values,
                "errors": errors,
                "weekdays": WEEKDAYS,
                "public_url": f"{settings.base_url}/book/{practice.booking_slug}",
            },
        )

    @get("/", name="booking_settings")
    async def show(self, request: Request, user: User, rt: AppRuntime) -> Template:
        practice = await availability.practice_by(clinician_id=user.clinician_id)
        ranges = await availability.working_ranges(practice.id)
        return await self._page(request, rt.settings, practice, _settings_values(practice, ranges), {})

    @post("/", name="booking_settings_save")
    async def save(self, request: Request, data: FormBody, user: User, ctx: Context) -> Any:
        practice = await availability.practice_by(clinician_id=user.clinician_id)
        form = Form.of(data)
        values, ranges = _settings_from(form, practice)
        if form.ok:
            await booking.save_settings(practice.id, values, ranges, **ctx.acting)
            await flash(request, "Booking settings saved.")
            return redirect(request, "/settings/booking")
        return await self._page(request, ctx.settings, practice, form.data, form.errors)


# --- Slots on a page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotDay:
    day: date
    slots: list[tuple[str, str]]  # (value, local label)


def slot_days(slots: list[datetime], zone: str, first_day: date) -> list[SlotDay]:
    """Group free slots by the viewer's local day, for ``DAYS_SHOWN`` days from ``first_day``."""
    tz = ZoneInfo(zone)
    days: dict[date, list[tuple[str, str]]] = {}
    last_day = first_day + timedelta(days=DAYS_SHOWN)
    for slot in slots:
        local = slot.astimezone(tz)
        if first_day <= local.date() < last_day:
            days.setdefault(local.date(), []).append((slot.strftime(SLOT_FORMAT), local.strftime("%H:%M")))
    return [SlotDay(day, items) for day, items in sorted(days.items())]


def parse_slot(value: str) -> datetime | None:
    """A submitted slot value, or None when it was tampered with."""
    try:
        found = datetime.strptime((value or "").strip(), SLOT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return None if year_problem(found.year) else found


def _viewer_zone(tz: str | None, fallback: str) -> str:
    return tz if tz and valid_time_zone(tz) else fallback


def _first_day(start: str | None, zone: str, now: datetime) -> date:
    today = now.astimezone(ZoneInfo(zone)).date()
    try:
        chosen = date.fromisoformat(start or "")
    except ValueError:
        return today
    return max(today, min(chosen, today + timedelta(days=400)))


async def _slot_context(
    practice: PracticeBooking,
    kind: str,
    zone: str,
    start: str | None,
    now: datetime,
    *,
    new_client: bool,
    anyone_of: list[PracticeBooking] | None = None,
) -> dict[str, Any]:
    """The slots of ``practice``; or, with ``anyone_of``, every start one of those clinicians is free."""
    types = practice.session_types(new_client=new_client)
    if kind not in types:
        kind = next(iter(types))
    minutes, fee = types[kind]
    if anyone_of:
        slots = await availability.first_available(anyone_of, kind, now)
    else:
        slots = await availability.open_slots(practice, minutes, now)
    first_day = _first_day(start, zone, now)
    days = slot_days(slots, zone, first_day)
    later = [
        s for s in slots if s.astimezone(ZoneInfo(zone)).date() >= first_day + timedelta(days=DAYS_SHOWN)
    ]
    return {
        "practice": practice,
        "kind": kind,
        "types": [(k, KIND_LABELS[k], m, format_money(f, practice.currency)) for k, (m, f) in types.items()],
        "minutes": minutes,
        "fee": fee,
        "zone": zone,
        "days": days,
        "first_day": first_day,
        "next_day": later[0].astimezone(ZoneInfo(zone)).date() if later else None,
        "previous_day": first_day - timedelta(days=DAYS_SHOWN)
        if first_day > now.astimezone(ZoneInfo(zone)).date()
        else None,
        "time_zones": time_zone_names(),
    }


# --- The public page ------------------------------------------------------------------------------


def _visitor_booking(form: Form) -> tuple[datetime | None, Visitor]:
    """The slot and the visitor the public form describes, with a message next to every bad field."""
    starts_at = parse_slot(form.data.get("slot", ""))
    if not form.data.get("slot"):
        form.error("slot", "Choose a time.")
    elif starts_at is None:
        form.error("slot", "That time isn't one we offered. Choose a time from the list.")
    name = form.name("name", label="Your name")
    address = form.email("email", label="Your email")
    phone = form.text("phone", label="Phone", required=False, max_length=40)
    billing = form.choice("billing_type", BILLING_CHOICES, label="How you'll pay", default="self_pay")
    if not form.checkbox("agree"):
        form.error("agree", "Please agree to the cancellation policy to book.")
    return starts_at, Visitor(name, address, phone, billing)


@dataclass(frozen=True)
class PublicPage:
    """A public booking page: a clinician's own, or a practice's where the visitor picks a clinician
    (``chosen``) among those ``offered``, or the first available (``chosen`` None). ``practice`` is whose
    details the page shows."""

    slug: str
    practice: PracticeBooking
    offered: list[PracticeBooking]
    chosen: int | None = None


async def public_page(slug: str, choice: str | None) -> PublicPage | None:
    offered = await availability.practice_page(slug)
    if offered:
        chosen = record_id(choice)
        shown = next((p for p in offered if p.id == chosen), None)
        return PublicPage(slug, shown or offered[0], offered, shown.id if shown else None)
    practice = await availability.practice_by(slug=slug)
    return PublicPage(slug, practice, []) if practice else None


async def _booked_publicly(
    form: Form,
    page: PublicPage,
    kind: str,
    starts_at: datetime,
    visitor: Visitor,
    ctx: RequestContext,
) -> bool:
    """Book the visitor's session; False, with the reason on the form, when it could not be booked."""
    try:
        await booking.book_public(
            page.slug, kind, starts_at, visitor, clinician_id=page.chosen, **ctx.sending
        )
    except SlotTaken:
        form.error("slot", TAKEN)
        form.data.pop("slot", None)
    except BookingClosed:
        form.error("form", "Online booking isn't open for this session type. Contact the practice.")
    except ClientError:
        form.error("email", "We can't book with this email address. Please use another one.")
    else:
        return True
    return False


class PublicBookingController(Controller):
    path = "/book"

    async def _practice(self, request: Request, rt: Runtime, slug: str, choice: str | None) -> PublicPage:
        allowed = await throttle.allow(
            rt.redis,
            "public-booking-view",
            client_ip(request),
            limit=PAGE_VIEWS_PER_10_MIN,
            window_seconds=600,
        )
        if not allowed:
            raise TooManyRequestsException()
        page = await public_page(slug[:80], choice)
        if page is None:
            raise NotFoundException()
        return page

    async def _page(
        self, request: Request, now: datetime, page: PublicPage, kind, tz, start, values, errors, **extra
    ) -> Template:
        practice = page.practice
        zone = _viewer_zone(tz, practice.time_zone)
        anyone_of = page.offered if page.offered and page.chosen is None else None
        context = await _slot_context(practice, kind, zone, start, now, new_client=True, anyone_of=anyone_of)
        return await render(
            request,
            "booking/public.html",
            {
                **context,
                "values": values,
                "errors": errors,
                "guess_zone": not tz,
                "open": practice.booking_enabled and practice.new_clients_may_book,
                "billing_choices": BILLING_CHOICES,
                "page": page,
                "fee_words": await fees.words_for_clinician(practice.id),
                **extra,
            },
            status_code=extra.pop("status_code", 200),
        )

    @get("/{slug:str}", name="public_booking")
    async def show(
        self,
        request: Request,
        slug: FromPath[str],
        rt: AppRuntime,
        now: Now,
        kind: FromQuery[str] = "intro",
        tz: FromQuery[str | None] = None,
        start: FromQuery[str | None] = None,
        clinician: FromQuery[str | None] = None,
    ) -> Template:
        page = await self._practice(request, rt, slug, clinician)
        return await self._page(request, now, page, kind, tz, start, {}, {})

    @post("/{slug:str}", name="public_booking_book")
    async def book(
        self, request: Request, slug: FromPath[str], data: FormBody, rt: AppRuntime, ctx: Context
    ) -> Template:
        form = Form.of(data)
        page = await self._practice(request, rt, slug, form.data.get("clinician"))
        kind, tz, start = form.data.get("kind", "intro"), form.data.get("tz"), form.data.get("start")
        if not await throttle.allow(
            rt.redis, "public-booking", client_ip(request), limit=BOOKINGS_PER_HOUR, window_seconds=3600
        ):
            raise TooManyRequestsException()
        zone = _viewer_zone(tz, page.practice.time_zone)
        if form.data.get("website", "").strip():  # the honeypot: people never see this field
            return await self._done(request, page.practice, None, zone)
        starts_at, visitor = _visitor_booking(form)
        fee_version = agreed_fee_version(form, await fees.words_for_clinician(page.practice.id), "agree")
        visitor = replace(visitor, fee_version=fee_version or "")
        if form.ok and await _booked_publicly(form, page, kind, starts_at, visitor, ctx):
            return await self._done(request, page.practice, starts_at, zone)
        return await self._page(
            request, ctx.now, page, kind, zone, start, form.data, form.errors, status_code=422
        )

    async def _done(self, request: Request, practice, starts_at: datetime | None, zone: str) -> Template:
        return await render(
            request, "booking/booked.html", {"practice": practice, "starts_at": starts_at, "zone": zone}
        )


# --- The portal -----------------------------------------------------------------------------------


async def _booked_from_portal(
    form: Form, user: CurrentUser, client_id: int, kind: str, starts_at: datetime, ctx: RequestContext
) -> bool:
    """Book the client's session; False, with the reason on the form, when it could not be booked (or
    the client has yet to agree to the practice's current fee policy)."""
    fee_version = agreed_fee_version(form, await fees.words_to_agree(client_id))
    if not form.ok:
        return False
    try:
        await booking.book_from_portal(
            user.id, client_id, kind, starts_at, fee_version=fee_version, **ctx.sending
        )
    except LookupError:
        raise NotFoundException() from None
    except SlotTaken:
        form.error("slot", TAKEN)
    except BookingClosed:
        form.error("form", "Online booking is closed for this session type. Contact your clinician.")
    else:
        return True
    return False


class PortalBookingController(Controller):
    path = "/portal"
    guards = [client_only]

    async def _page(
        self,
        request,
        user: CurrentUser,
        now: datetime,
        client_id,
        kind,
        start,
        values,
        errors,
        status_code=200,
    ) -> Template:
        try:
            practice, client = await booking.portal_practice(user.id, client_id)
        except LookupError:
            raise NotFoundException() from None
        context = await _slot_context(practice, kind, user.time_zone, start, now, new_client=False)
        return await render(
            request,
            "booking/portal_book.html",
            {
                **context,
                "client_id": client.id,
                "fee_words": await fees.words_to_agree(client.id),
                "values": values,
                "errors": errors,
                "open": practice.booking_enabled,
            },
            status_code=status_code,
        )

    @get("/book", name="portal_book")
    async def show(
        self,
        request: Request,
        user: User,
        now: Now,
        practice: FromQuery[int | None] = None,
        kind: FromQuery[str] = "regular",
        start: FromQuery[str | None] = None,
    ) -> Any:
        if practice is not None and record_id(practice) is None:
            raise NotFoundException()
        if practice is None:
            records = await booking.portal_records(user.id)
            if not records:
                raise NotFoundException()
            practice = records[0]
        return await self._page(request, user, now, practice, kind, start, {}, {})

    @post("/book", name="portal_book_save")
    async def book(self, request: Request, data: FormBody, user: User, ctx: Context) -> Any:
        form = Form.of(data)
        client_id, kind = record_id(form.data.get("practice")), form.data.get("kind", "regular")
        if client_id is None:
            raise NotFoundException()
        starts_at = parse_slot(form.data.get("slot", ""))
        if starts_at is None:
            form.error("slot", "Choose a time from the list.")
        elif form.ok and await _booked_from_portal(form, user, client_id, kind, starts_at, ctx):
            local = starts_at.astimezone(ZoneInfo(user.time_zone))
            await flash(request, f"Booked {local:%A %-d %B, %H:%M}. We emailed you the details.")
            return redirect(request, "/portal")
        return await self._page(
            request, user, ctx.now, client_id, kind, form.data.get("start"), form.data, form.errors, 422
        )

    @post("/sessions/{appointment_id:int}/cancel", name="portal_cancel")
    async def cancel(self, request: Request, appointment_id: FromPath[int], user: User, ctx: Context) -> Any:
        try:
            appointment = await booking.cancel_from_portal(user.id, appointment_id, **ctx.sending)
        except LookupError:
            raise NotFoundException() from None
        except CancelRefused as refused:
            await flash(request, refused.message)
        else:
            local = appointment.starts_at.astimezone(ZoneInfo(user.time_zone))
            await flash(request, f"Cancelled your session on {local:%A %-d %B, %H:%M}.")
        return redirect(request, "/portal")


# --- The calendar feed ----------------------------------------------------------------------------


@get("/feed/{client_id:int}/{token:str}", name="calendar_feed")
async def calendar_feed(client_id: FromPath[int], token: FromPath[str], rt: AppRuntime, now: Now) -> Response:
    """A client's sessions as an iCalendar feed; a wrong token or a switched-off feed is a 404."""
    body = await notices.feed(client_id, token.removesuffix(".ics")[:64], settings=rt.settings, now=now)
    if body is None:
        raise NotFoundException()
    return Response(
        content=body,
        media_type="text/calendar",
        headers={"Cache-Control": "private, max-age=300"},
    )


# Registered in ``app.web.app``.
BOOKING_HANDLERS = [
    BookingSettingsController,
    PublicBookingController,
    PortalBookingController,
    calendar_feed,
]
