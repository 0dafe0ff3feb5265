"""Object-level authorization (R1, R12): every route of the app × every kind of person, each cell with an
explicit expected outcome. The route list comes from the app's own route table, so a new route without a
row here fails ``test_every_route_has_a_row``.

The people: the practice's owner (Maya, who also sees clients), clinician A (Noor, whose client Alex is),
clinician B (Lee, a colleague Alex is not shared with), the front desk (Sky), the client (Alex), a member
of another practice (Jordan, who owns Northside) and someone signed out. Every ``{…}`` in a path is one of
A's records: Alex's client record, a past session of Alex with Noor, its succeeded charge; or of the
owner's: a pending invitation to the practice, the practice itself.

Outcomes: ``OK`` the page or action is theirs (any answer but a refusal or the sign-in page: a form with
errors counts, empty forms are posted); ``LOGIN`` sent to sign in; ``DENIED`` 403; ``GONE`` 404, as if
the record did not exist.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models.tables import EmailMessage, GoodFaithEstimate, IntakeQuestion, Superbill
from app.services import imports, members
from app.services import paperwork as intake
from app.services.queue import JobQueue
from app.web.app import create_app
from tests.helpers import actor_for, make_client, make_clinician, make_member, post_form, sign_in
from tests.report_data import add_appointment, set_charge

OK, LOGIN, DENIED, GONE = "ok", "login", "denied", "gone"
PEOPLE = ("owner", "clinician A", "clinician B", "front desk", "client", "other practice", "signed out")


def row(owner, a, b, desk, client, other, signed_out):
    return dict(zip(PEOPLE, (owner, a, b, desk, client, other, signed_out), strict=True))


# Rows: an outcome for each person (owner, A, B, front desk, client, other practice, signed out).
PUBLIC = row(OK, OK, OK, OK, OK, OK, OK)
ANY_SIGNED_IN = row(OK, OK, OK, OK, OK, OK, LOGIN)  # one's own account: everyone has theirs
STAFF_PAGE = row(OK, OK, OK, DENIED, DENIED, OK, LOGIN)  # a clinician's page of their own practice's data
FRONT_DESK_TOO = row(OK, OK, OK, OK, DENIED, OK, LOGIN)  # ... that booking needs: the front desk's too
PRACTICE_SETTING = row(OK, DENIED, DENIED, DENIED, GONE, OK, LOGIN)  # the owner's, of their practice
# One of clinician A's records, seen by the owner and the front desk working in A's calendar: all of it
# for the owner, what booking needs for the front desk (refused the rest), nothing for B or another
# practice (not found).
A_RECORD = row(OK, OK, GONE, DENIED, DENIED, GONE, LOGIN)
A_RECORD_OWNER_ACTS = row(OK, DENIED, GONE, DENIED, DENIED, GONE, LOGIN)  # seen as A_RECORD; the owner acts
A_BOOKING = row(OK, OK, GONE, OK, DENIED, GONE, LOGIN)
PORTAL = row(DENIED, DENIED, DENIED, DENIED, OK, DENIED, LOGIN)
PORTAL_PAST_SESSION = row(DENIED, DENIED, DENIED, DENIED, GONE, DENIED, LOGIN)  # a late cancel: upcoming only
EVERY_CALENDAR = row(OK, DENIED, DENIED, OK, DENIED, OK, LOGIN)  # the practice's day: owner, front desk
MEMBER_PAGE = row(OK, OK, OK, OK, DENIED, OK, LOGIN)  # any member of a practice, in their own
OWNER_PAGE = row(OK, DENIED, DENIED, DENIED, DENIED, OK, LOGIN)  # the owner of a practice, in their own
OWNER_RECORD = row(OK, DENIED, DENIED, DENIED, DENIED, GONE, LOGIN)  # a membership of the owner's practice
# A client's page reached through the practice's rules (R12): the owner and the assigned clinician.
PRACTICE_CLIENT = row(OK, OK, GONE, DENIED, DENIED, GONE, LOGIN)
SWITCH_HERE = row(OK, OK, OK, OK, DENIED, GONE, LOGIN)  # switch to the practice A works in
SWITCH_TO_A = row(OK, DENIED, DENIED, OK, DENIED, GONE, LOGIN)  # work in A's calendar: owner, front desk
NOT_HERE = row(GONE, GONE, GONE, GONE, GONE, GONE, GONE)  # needs a token this test doesn't have
SIGN_IN_FIRST = row(
    LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN
)  # sign-out, and a code with no password step

EXPECTED: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/"): ANY_SIGNED_IN,
    ("GET", "/account"): ANY_SIGNED_IN,
    ("GET", "/account/billing"): STAFF_PAGE,
    ("POST", "/account/billing"): STAFF_PAGE,
    ("GET", "/account/password"): ANY_SIGNED_IN,
    ("POST", "/account/password"): ANY_SIGNED_IN,
    ("GET", "/account/security"): ANY_SIGNED_IN,
    ("POST", "/account/security/recovery-codes"): ANY_SIGNED_IN,
    ("POST", "/account/security/requirement"): PRACTICE_SETTING,
    ("GET", "/account/security/two-factor"): ANY_SIGNED_IN,
    ("POST", "/account/security/two-factor"): ANY_SIGNED_IN,
    ("POST", "/account/security/two-factor/off"): ANY_SIGNED_IN,
    ("POST", "/account/session/refresh"): ANY_SIGNED_IN,
    ("POST", "/account/sessions/end-others"): ANY_SIGNED_IN,
    ("POST", "/account/sessions/{device_id:str}/end"): ANY_SIGNED_IN,
    ("POST", "/appointments"): FRONT_DESK_TOO,
    ("GET", "/appointments/client-options"): FRONT_DESK_TOO,
    ("GET", "/appointments/new"): FRONT_DESK_TOO,
    ("GET", "/appointments/{appointment_id:int}"): A_BOOKING,
    ("GET", "/appointments/{appointment_id:int}/book-next"): A_BOOKING,
    ("POST", "/appointments/{appointment_id:int}/book-next"): A_BOOKING,
    ("GET", "/appointments/{appointment_id:int}/charge"): A_RECORD,
    ("POST", "/appointments/{appointment_id:int}/charge/refund"): A_RECORD,
    ("POST", "/appointments/{appointment_id:int}/charge/resume"): A_RECORD_OWNER_ACTS,
    ("POST", "/appointments/{appointment_id:int}/charge/retry"): A_RECORD,
    ("POST", "/appointments/{appointment_id:int}/charge/waive"): A_RECORD,
    ("GET", "/appointments/{appointment_id:int}/reschedule"): A_BOOKING,
    ("POST", "/appointments/{appointment_id:int}/reschedule"): A_BOOKING,
    ("GET", "/appointments/{appointment_id:int}/series"): A_BOOKING,
    ("POST", "/appointments/{appointment_id:int}/series"): A_BOOKING,
    ("POST", "/appointments/{appointment_id:int}/series/cancel"): A_BOOKING,
    ("POST", "/appointments/{appointment_id:int}/status"): A_BOOKING,
    ("GET", "/audit"): STAFF_PAGE,
    ("GET", "/audit/export"): STAFF_PAGE,
    ("GET", "/book/{slug:str}"): PUBLIC,
    ("POST", "/book/{slug:str}"): PUBLIC,
    ("GET", "/calendar"): FRONT_DESK_TOO,
    ("GET", "/calendar/practice"): EVERY_CALENDAR,
    ("GET", "/calendar/needs-status"): FRONT_DESK_TOO,
    ("GET", "/calendar/needs-status/count"): FRONT_DESK_TOO,
    ("POST", "/calendar/privacy"): FRONT_DESK_TOO,
    ("GET", "/charges/{charge_id:int}/receipt"): A_RECORD,
    ("GET", "/checklist/insurance-contact"): STAFF_PAGE,
    ("POST", "/checklist/insurance-contact"): STAFF_PAGE,
    ("GET", "/checklist/{client_id:int}"): A_RECORD,
    ("POST", "/checklist/{client_id:int}/applicable"): A_RECORD,
    ("POST", "/checklist/{client_id:int}/coverage"): A_RECORD,
    ("POST", "/checklist/{client_id:int}/invite"): A_RECORD,
    ("POST", "/checklist/{client_id:int}/not-applicable"): A_RECORD,
    ("POST", "/checklist/{client_id:int}/occurred"): A_RECORD,
    ("GET", "/clients"): FRONT_DESK_TOO,
    ("GET", "/clients/new"): FRONT_DESK_TOO,
    ("POST", "/clients/new"): FRONT_DESK_TOO,
    ("GET", "/clients/{client_id:int}"): A_BOOKING,
    ("GET", "/clients/{client_id:int}/archive"): A_RECORD,
    ("POST", "/clients/{client_id:int}/archive"): A_RECORD,
    ("GET", "/clients/{client_id:int}/billing"): PRACTICE_CLIENT,
    ("POST", "/clients/{client_id:int}/billing"): PRACTICE_CLIENT,
    ("GET", "/clients/{client_id:int}/superbills/{superbill_id:int}/pdf"): PRACTICE_CLIENT,
    ("POST", "/clients/{client_id:int}/superbills/{superbill_id:int}/regenerate"): PRACTICE_CLIENT,
    ("POST", "/clients/{client_id:int}/superbills/{superbill_id:int}/resend"): PRACTICE_CLIENT,
    ("POST", "/clients/{client_id:int}/sessions/{appointment_id:int}/codes"): PRACTICE_CLIENT,
    ("POST", "/clients/{client_id:int}/email-retry"): A_BOOKING,  # so the invitation gets through
    # A client's forms, intake answers and signed copies: clinical, so never the front desk's (R14).
    ("GET", "/clients/{client_id:int}/paperwork"): A_RECORD,
    ("GET", "/clients/{client_id:int}/paperwork/{kind:str}/{copy_id:int}"): A_RECORD,
    ("POST", "/clients/{client_id:int}/paperwork/remind"): A_RECORD,
    # The practice's documents and intake questions are its owner's to change (R12, R14).
    ("GET", "/documents"): OWNER_PAGE,
    ("GET", "/documents/new"): OWNER_PAGE,
    ("POST", "/documents/new"): OWNER_PAGE,
    ("POST", "/documents/questions"): OWNER_PAGE,
    ("POST", "/documents/questions/{question_id:int}/remove"): OWNER_RECORD,
    ("GET", "/documents/{document_id:int}"): OWNER_RECORD,
    ("POST", "/documents/{document_id:int}"): OWNER_RECORD,
    ("POST", "/documents/{document_id:int}/retire"): OWNER_RECORD,
    ("GET", "/clients/{client_id:int}/edit"): A_RECORD,
    ("POST", "/clients/{client_id:int}/edit"): A_RECORD,
    ("GET", "/clients/{client_id:int}/export"): A_RECORD,
    ("GET", "/clients/{client_id:int}/insurance"): A_RECORD,
    ("POST", "/clients/{client_id:int}/insurance"): A_RECORD,
    ("POST", "/clients/{client_id:int}/invite"): A_BOOKING,
    ("POST", "/clients/{client_id:int}/restore"): A_RECORD,
    ("GET", "/clients/{client_id:int}/sessions"): A_BOOKING,
    ("GET", "/clients/{client_id:int}/contact"): A_BOOKING,
    # Who works with A's client: the owner reassigns; the owner and A share (R12).
    ("GET", "/clients/{client_id:int}/clinicians"): A_RECORD,
    ("POST", "/clients/{client_id:int}/reassign"): row(OK, DENIED, DENIED, DENIED, DENIED, GONE, LOGIN),
    ("POST", "/clients/{client_id:int}/share"): A_RECORD,
    ("POST", "/clients/{client_id:int}/unshare"): A_RECORD,
    ("POST", "/clients/{client_id:int}/contact"): A_BOOKING,
    ("GET", "/dev/mailbox"): PUBLIC,
    ("GET", "/dev/mailbox/{message_id:int}"): PUBLIC,
    ("POST", "/dev/mailbox/texts/{text_id:int}/reply"): NOT_HERE,
    ("POST", "/email/events"): NOT_HERE,
    ("POST", "/stripe/webhook"): NOT_HERE,
    ("POST", "/texts/inbound"): NOT_HERE,
    ("GET", "/feed/{client_id:int}/{token:str}"): NOT_HERE,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/invite/new"): PUBLIC,
    ("POST", "/invite/new"): PUBLIC,
    ("GET", "/invite/{token:str}"): PUBLIC,
    ("POST", "/invite/{token:str}"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/login/code"): SIGN_IN_FIRST,
    ("POST", "/login/code"): PUBLIC,
    ("POST", "/logout"): SIGN_IN_FIRST,
    ("GET", "/metrics"): NOT_HERE,
    ("GET", "/new-clients"): STAFF_PAGE,
    ("GET", "/new-clients/count"): STAFF_PAGE,
    ("GET", "/password/forgot"): PUBLIC,
    ("POST", "/password/forgot"): PUBLIC,
    ("GET", "/password/reset/{token:str}"): PUBLIC,
    ("POST", "/password/reset/{token:str}"): PUBLIC,
    ("GET", "/practice"): MEMBER_PAGE,
    ("GET", "/practice/fees"): OWNER_PAGE,
    ("POST", "/practice/fees"): OWNER_PAGE,
    ("GET", "/practice/members"): OWNER_PAGE,
    ("POST", "/practice/members"): OWNER_PAGE,
    ("GET", "/imports"): STAFF_PAGE,  # a colleague is told only the owner imports
    ("POST", "/imports/clients"): OWNER_PAGE,
    ("POST", "/imports/calendar"): OWNER_PAGE,
    ("GET", "/imports/{batch_id:int}"): OWNER_RECORD,
    ("GET", "/imports/{batch_id:int}/progress"): OWNER_RECORD,
    ("POST", "/imports/{batch_id:int}/mapping"): OWNER_RECORD,
    ("POST", "/imports/{batch_id:int}/confirm"): OWNER_RECORD,
    ("POST", "/imports/{batch_id:int}/decide"): OWNER_RECORD,
    ("POST", "/imports/{batch_id:int}/book"): OWNER_RECORD,
    ("POST", "/imports/{batch_id:int}/undo"): OWNER_RECORD,
    ("POST", "/imports/{batch_id:int}/invite"): OWNER_RECORD,
    ("GET", "/practice/members/{membership_id:int}/remove"): OWNER_RECORD,
    ("POST", "/practice/members/{membership_id:int}/remove"): OWNER_RECORD,
    ("POST", "/practice/members/{membership_id:int}/resend"): OWNER_RECORD,
    ("POST", "/practice/switch"): SWITCH_HERE,
    ("POST", "/practice/calendar"): SWITCH_TO_A,
    ("GET", "/join/{token:str}"): PUBLIC,
    ("POST", "/join/{token:str}"): PUBLIC,
    ("GET", "/portal"): PORTAL,
    ("GET", "/portal/forms"): PORTAL,
    ("GET", "/portal/forms/copies/{kind:str}/{copy_id:int}"): PORTAL,
    ("GET", "/portal/forms/{client_id:int}/documents/{document_id:int}"): PORTAL,
    ("POST", "/portal/forms/{client_id:int}/documents/{document_id:int}"): PORTAL,
    ("GET", "/portal/forms/{client_id:int}/intake"): PORTAL,
    ("POST", "/portal/forms/{client_id:int}/intake"): PORTAL,
    ("GET", "/portal/book"): PORTAL,
    ("POST", "/portal/book"): PORTAL,
    ("GET", "/portal/card"): PORTAL,
    ("POST", "/portal/card"): PORTAL,
    # Stripe's card form posts here; with the sandbox gateway (as here) it does not exist.
    ("POST", "/portal/card/confirmed"): row(DENIED, DENIED, DENIED, DENIED, GONE, DENIED, LOGIN),
    # the client's own charge, but paid: nothing to confirm with the bank (a late return says it is paid)
    ("GET", "/portal/charges/{charge_id:int}/confirm"): row(
        DENIED, DENIED, DENIED, DENIED, GONE, DENIED, LOGIN
    ),
    ("POST", "/portal/charges/{charge_id:int}/confirm"): PORTAL,
    ("GET", "/portal/charges"): PORTAL,
    ("GET", "/portal/charges/{charge_id:int}/receipt"): PORTAL,
    ("GET", "/portal/export"): PORTAL,
    ("GET", "/portal/insurance"): PORTAL,
    ("GET", "/portal/insurance/estimates/{estimate_id:int}/pdf"): PORTAL,
    ("POST", "/portal/insurance/estimates/{client_id:int}/request"): PORTAL,
    ("GET", "/portal/insurance/superbills"): PORTAL,
    ("POST", "/portal/insurance/superbills/{client_id:int}/frequency"): PORTAL,
    ("GET", "/portal/insurance/superbills/{superbill_id:int}/pdf"): PORTAL,
    ("GET", "/portal/insurance/{client_id:int}"): PORTAL,
    ("POST", "/portal/insurance/{client_id:int}"): PORTAL,
    ("GET", "/portal/insurance/{client_id:int}/self-check"): PORTAL,
    ("POST", "/portal/insurance/{client_id:int}/self-check"): PORTAL,
    ("GET", "/portal/profile"): PORTAL,
    ("POST", "/portal/profile"): PORTAL,
    ("POST", "/portal/sessions/{appointment_id:int}/cancel"): PORTAL,
    ("POST", "/portal/sessions/{appointment_id:int}/check-in"): PORTAL,
    ("GET", "/portal/sessions/{appointment_id:int}/late-cancel"): PORTAL_PAST_SESSION,
    ("POST", "/portal/sessions/{appointment_id:int}/late-cancel"): PORTAL_PAST_SESSION,
    ("POST", "/portal/sessions/{appointment_id:int}/move"): PORTAL,
    ("GET", "/report"): STAFF_PAGE,
    ("GET", "/report.csv"): STAFF_PAGE,
    ("GET", "/settings/booking"): STAFF_PAGE,
    ("POST", "/settings/booking"): STAFF_PAGE,
    # A reminder's one-tap links need the session's token, whoever is signed in (R11).
    ("GET", "/s/{appointment_id:int}/{token:str}"): NOT_HERE,
    ("POST", "/s/{appointment_id:int}/{token:str}/cancel"): NOT_HERE,
    ("POST", "/s/{appointment_id:int}/{token:str}/check-in"): NOT_HERE,
    ("POST", "/s/{appointment_id:int}/{token:str}/confirm"): NOT_HERE,
    ("POST", "/s/{appointment_id:int}/{token:str}/move"): NOT_HERE,
    ("GET", "/signup"): PUBLIC,
    ("POST", "/signup"): PUBLIC,
    ("GET", "/signup/confirm/{token:str}"): PUBLIC,
    ("POST", "/signup/confirm/{token:str}"): PUBLIC,
    ("GET", "/static/{file_path:path}"): PUBLIC,
}


def outcome(response) -> str:
    status, location = response.status_code, response.headers.get("location", "")
    if status in (401,) or (status in (302, 303) and location.startswith("/login")):
        return LOGIN
    if status == 403:
        return DENIED
    if status == 404:
        return GONE
    assert status < 500, (status, response.text[:500])
    return OK


def app_routes(application) -> set[tuple[str, str]]:
    found = set()
    for route in application.routes:
        for method in getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}:
            found.add((method, route.path))
    return found


def test_every_route_has_a_row(settings, clock):
    routes = app_routes(create_app(settings, clock=clock))
    assert routes - set(EXPECTED) == set(), "a new route needs its row in EXPECTED"
    assert set(EXPECTED) - routes == set(), "EXPECTED lists a route the app no longer has"


async def practice(settings, clock):
    """The people and A's records, keyed by path parameter."""
    now = clock.now()
    owner = await make_clinician(settings, now)
    noor = await make_member(
        settings, now, owner, email="noor@example.test", name="Noor Haddad", role="clinician"
    )
    lee = await make_member(settings, now, owner, email="lee@example.test", name="Lee Park", role="clinician")
    sky = await make_member(
        settings, now, owner, email="sky@example.test", name="Sky Moreno", role="front_desk"
    )
    alex, client_id = await make_client(settings, now, noor)
    pending = await members.invite_member(
        owner.user,
        members.NewMember("Robin Vale", "robin@example.test", "front_desk"),
        now=now,
        actor=actor_for(owner),
        settings=settings,
        queue=JobQueue(None, settings.queue_name),
    )
    other = await make_clinician(settings, now, email="jordan@example.test", practice="Northside")
    appointment_id = await add_appointment(
        noor.user.clinician_id, client_id, now - timedelta(days=2), status="occurred"
    )
    await set_charge(appointment_id, "succeeded", 15000, due_at=now - timedelta(days=1), succeeded_at=now)
    from app.models.tables import Charge

    charge = await Charge.select(Charge.id).where(Charge.appointment == appointment_id).first()
    message = await EmailMessage.select(EmailMessage.id).first()
    batch_id = await imports.upload_clients(
        owner.user, "c.csv", b"Name,Email\r\nA,a@example.test\r\n", now=now
    )
    superbill, estimate = await paperwork(client_id, noor.user.clinician_id, appointment_id, now)
    document_id, question_id, intake_id = await forms(owner, alex, client_id, now)
    people = {
        "owner": owner,
        "clinician A": noor,
        "clinician B": lee,
        "front desk": sky,
        "client": alex,
        "other practice": other,
        "signed out": None,
    }
    params = {
        "client_id": client_id,
        "appointment_id": appointment_id,
        "charge_id": charge["id"],
        "message_id": message["id"],
        "token": "not-a-real-token-" + "x" * 30,
        "slug": "calm-harbor",
        "device_id": "no-such-device",
        "file_path": "app.css",
        "membership_id": pending,
        "practice_id": owner.user.practice_id,
        "superbill_id": superbill,
        "estimate_id": estimate,
        "a_seat": noor.user.clinician_id,
        "batch_id": batch_id,
        "document_id": document_id,
        "question_id": question_id,
        "kind": "intake",
        "copy_id": intake_id,
    }
    return people, params


async def paperwork(client_id: int, clinician_id: int, appointment_id: int, now) -> tuple[int, int]:
    """An issued superbill and Good Faith Estimate of Alex's."""
    bill = await Superbill.insert(
        Superbill(
            key=f"session:{appointment_id}",
            client=client_id,
            clinician=clinician_id,
            period="Test",
            pdf=b"%PDF",
            issued_at=now,
        )
    ).returning(Superbill.id)
    estimate = await GoodFaithEstimate.insert(
        GoodFaithEstimate(
            client=client_id,
            clinician=clinician_id,
            first_session_on=now.date(),
            last_session_on=now.date(),
            scheduled_on=now.date(),
            issued_at=now,
            pdf=b"%PDF",
        )
    ).returning(GoodFaithEstimate.id)
    return bill[0]["id"], estimate[0]["id"]


async def forms(owner, alex, client_id: int, now) -> tuple[int, int, int]:
    """The practice's consent document and intake question, and Alex's answered intake."""
    acting = {"now": now, "actor": actor_for(owner)}
    seat = owner.user.own_clinician_id
    document_id = await intake.publish(seat, "Consent", "I agree to begin therapy.", **acting)
    await intake.add_question(seat, "Anything else?", "short", False, **acting)
    question = await IntakeQuestion.select(IntakeQuestion.id).first()
    intake_id = await intake.submit_intake(
        alex.user.id,
        client_id,
        [{"question": "Anything else?", "answer": "No"}],
        "Alex Rivera",
        now=now,
        actor=actor_for(alex),
    )
    return document_id, question["id"], intake_id


def fill(path: str, params: dict) -> str:
    for name, value in params.items():
        for kind in ("int", "str", "path"):
            path = path.replace(f"{{{name}:{kind}}}", str(value))
    return path


# What a form must carry for the handler to look the record up at all (other forms are posted empty).
FORMS = {
    ("POST", "/checklist/{client_id:int}/occurred"): {"appointment_id": "appointment_id"},
    ("POST", "/portal/book"): {"practice": "client_id"},
    ("POST", "/practice/switch"): {"practice_id": "practice_id"},
    ("POST", "/practice/calendar"): {"clinician_id": "a_seat"},
}


async def attempt(client, method: str, path: str, params: dict):
    url = fill(path, params)
    if method == "GET":
        return await client.get(url)
    form = {field: str(params[name]) for field, name in FORMS.get((method, path), {}).items()}
    return await post_form(client, url, form)


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED), ids=lambda v: v)
async def test_each_person_gets_exactly_their_outcome(client, settings, clock, method, path):
    people, params = await practice(settings, clock)
    seen = {}
    for label, person in people.items():
        client.cookies.clear()
        if person is not None:
            await sign_in(client, person)
        if label in ("owner", "front desk"):  # they work in A's calendar
            await post_form(client, "/practice/calendar", {"clinician_id": str(params["a_seat"])})
        seen[label] = outcome(await attempt(client, method, path, params))
    assert seen == EXPECTED[(method, path)], (method, path)
