"""E-mail: outbox written with the action, delivered by a real arq worker to a real SMTP server."""

from __future__ import annotations

from dataclasses import replace

import aiosmtplib
import pytest

from app.models.tables import EmailMessage
from app.services import email
from tests.conftest import Mailbox, browser, free_port, running
from tests.helpers import link_in, make_clinician, post_form


async def test_reset_email_is_delivered_over_smtp_and_its_link_works(
    db, redis, settings, clock, smtp_server, run_worker
):
    from app.web.app import create_app

    smtp_settings = replace(settings, smtp_url=smtp_server.url)
    clinician = await make_clinician(smtp_settings, clock.now())
    application = create_app(smtp_settings, clock=clock)
    async with running(application), browser(application) as client:
        await post_form(client, "/password/forgot", {"email": clinician.email})
        await run_worker(worker_settings=smtp_settings)
        assert len(smtp_server.messages) == 1
        message = smtp_server.messages[0]
        assert message["To"] == clinician.email
        assert message["Subject"] == "Reset your Stillwater password"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        path = link_in(text, "/password/reset/")
        assert path in html
        page = await client.get(path)
        assert "Choose a new password" in page.text
    stored = await EmailMessage.objects().first()
    assert stored.sent_at is not None and stored.attempts == 1


async def test_a_worker_sends_one_email_after_another_on_one_smtp_connection(
    db, redis, settings, clock, smtp_server, arq_pool
):
    from app.web.app import create_app
    from tests.conftest import burst_worker

    smtp_settings = replace(settings, smtp_url=smtp_server.url)
    emails = [
        (await make_clinician(smtp_settings, clock.now(), email=f"c{n}@example.com")).email for n in range(3)
    ]
    application = create_app(smtp_settings, clock=clock)
    async with running(application), browser(application) as client:
        for address in emails:
            await post_form(client, "/password/forgot", {"email": address})
    await burst_worker(smtp_settings, clock, redis_pool=arq_pool, max_jobs=1)
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(emails)
    assert len(set(smtp_server.peers)) == 1


async def test_smtp_outage_keeps_the_message_and_a_later_run_sends_it(
    db, redis, settings, clock, smtp_server, run_worker, arq_pool
):
    from app.web.app import create_app

    dead = replace(settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    clinician = await make_clinician(settings, clock.now())
    application = create_app(dead, clock=clock)
    async with running(application), browser(application) as client:
        await post_form(client, "/password/forgot", {"email": clinician.email})
    await run_worker(worker_settings=dead, max_jobs=1)
    stored = await EmailMessage.objects().first()
    assert stored.sent_at is None and stored.attempts == 1
    assert "Error" in stored.last_error or "refused" in stored.last_error.lower()

    from workers.email import sweep_unsent_emails

    live = replace(settings, smtp_url=smtp_server.url)
    await redis.flushdb()  # the retry job is gone too, as after a Redis restart
    clock.advance(minutes=6)
    queued = await sweep_unsent_emails({"settings": live, "clock": clock, "redis": arq_pool})
    assert queued == 1
    await run_worker(worker_settings=live)
    assert len(smtp_server.messages) == 1
    assert (await EmailMessage.objects().first()).sent_at is not None


async def test_a_resent_message_keeps_its_message_id_so_mail_apps_see_one_message(
    db, redis, settings, clock, smtp_server, run_worker, arq_pool
):
    from app.web.app import create_app
    from workers.email import sweep_unsent_emails

    dead = replace(settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    live = replace(settings, smtp_url=smtp_server.url)
    clinician = await make_clinician(settings, clock.now())
    application = create_app(dead, clock=clock)
    async with running(application), browser(application) as client:
        await post_form(client, "/password/forgot", {"email": clinician.email})
    await run_worker(worker_settings=dead, max_jobs=1)  # the first attempt fails
    stored = await EmailMessage.objects().first()
    assert stored.sent_at is None and stored.message_id.endswith("@stillwater.test>")

    await redis.flushdb()
    clock.advance(minutes=6)
    await sweep_unsent_emails({"settings": live, "clock": clock, "redis": arq_pool})
    await run_worker(worker_settings=live)
    # Sent, but the worker died before recording it: the sweep sends it again.
    await EmailMessage.update({EmailMessage.sent_at: None}).where(EmailMessage.id == stored.id)
    clock.advance(minutes=6)
    assert await sweep_unsent_emails({"settings": live, "clock": clock, "redis": arq_pool}) == 1
    await run_worker(worker_settings=live)

    assert [m["Message-ID"] for m in smtp_server.messages] == [stored.message_id] * 2


async def test_without_smtp_the_message_stays_in_the_dev_mailbox(client, settings, clock, run_worker):
    clinician = await make_clinician(settings, clock.now())
    await post_form(client, "/password/forgot", {"email": clinician.email})
    await run_worker()
    mailbox = await client.get("/dev/mailbox/")
    assert "Reset your Stillwater password" in mailbox.text
    message = await EmailMessage.objects().first()
    page = await client.get(f"/dev/mailbox/{message.id}")
    assert "/password/reset/" in page.text
    assert message.sent_at is None


async def test_dev_mailbox_is_absent_outside_debug(db, redis, settings, clock):
    from app.web.app import create_app

    production = create_app(replace(settings, debug=False, secret_key="x" * 40), clock=clock)
    async with running(production), browser(production) as client:
        assert (await client.get("/dev/mailbox/")).status_code == 404


class RefusesOnce(Mailbox):
    """A real SMTP server that answers 451 (try later) to the third message it is given, once."""

    refused = False

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        if len(self.messages) == 2 and not self.refused:
            self.refused = True
            return "451 Try again later"
        return await super().handle_DATA(server, session, envelope)


async def test_a_message_refused_in_a_batch_holds_up_no_other_and_the_retry_sends_only_it(
    db, redis, settings, clock
):
    from aiosmtpd.controller import Controller

    mailbox = RefusesOnce()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        live = replace(settings, smtp_url=f"smtp://127.0.0.1:{controller.port}")
        letters = [
            email.Outgoing(f"c{n}@example.test", f"Letter {n}", "password_reset", {"link": "x", "name": "C"})
            for n in range(5)
        ]
        ids = await email.queue_emails(letters, now=clock.now(), settings=live)
        with pytest.raises(aiosmtplib.SMTPResponseException):
            await email.deliver_many(ids, live, clock.now())
        stored = await EmailMessage.objects().order_by(EmailMessage.id)
        assert [m.sent_at is not None for m in stored] == [True, True, False, True, True]
        assert "451" in stored[2].last_error

        assert (await email.deliver_many(ids, live, clock.now()))["sent"] == 1
    finally:
        controller.stop()
    assert sorted(m["Subject"] for m in mailbox.messages) == [f"Letter {n}" for n in range(5)]
    assert len(set(mailbox.peers)) == 3  # after a refusal the batch goes on on a fresh connection
