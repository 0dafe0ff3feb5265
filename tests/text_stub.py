"""A local stand-in for Twilio's Messages API (tests only): ``POST /2010-04-01/Accounts/<sid>/Messages.json``
with basic auth (account sid and auth token) and form fields To, From, Body; answers 201 with the
message's JSON (``sid`` SM…), 401 for wrong credentials, 400 (code 21211) for a number in ``refused``.
``sent`` holds what went out. ``reply`` builds a client's reply as the provider would post it to our
webhook, signed with X-Twilio-Signature."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from app.domain.texts import signature

SID = "AC" + "0" * 32
TOKEN = "stub-auth-token"  # noqa: S105 - a test credential


class TextStub:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.refused: set[str] = set()
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TextStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def settings(self) -> dict[str, str]:
        """The settings that point the app at this stub."""
        return {
            "text_provider_url": self.url,
            "text_account_sid": SID,
            "text_auth_token": TOKEN,
            "text_from": "+15550001111",
        }

    @staticmethod
    def reply(webhook_url: str, number: str, body: str) -> tuple[dict[str, str], dict[str, str]]:
        """The form and headers of an inbound reply as the provider posts it."""
        form = {
            "MessageSid": "SMreply",
            "AccountSid": SID,
            "From": number,
            "To": "+15550001111",
            "Body": body,
        }
        return form, {"X-Twilio-Signature": signature(TOKEN, webhook_url, form)}

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
                if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json":
                    return self._answer(404, {"code": 20404, "message": "Not found", "status": 404})
                if self.headers.get("Authorization") != expected:
                    return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                if form.get("To") in stub.refused:
                    return self._answer(
                        400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
                    )
                with stub.lock:
                    sid = f"SM{next(stub.ids):032d}"
                    stub.sent.append({"sid": sid, **form})
                self._answer(
                    201, {"sid": sid, "status": "queued", "to": form.get("To"), "body": form.get("Body")}
                )

        return Handler
