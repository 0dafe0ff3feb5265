"""A local stand-in for the few Stripe API endpoints the Stripe gateway uses (tests only).

Speaks form-encoded requests and JSON answers like api.stripe.com, stores objects in memory, replays
the stored answer for a repeated Idempotency-Key (and refuses a key reused with other parameters),
and can drop the response of a request it has processed (``lose_next``), as a broken connection would.
Test payment methods: pm_card_visa, pm_card_chargeDeclined, pm_card_chargeDeclinedInsufficientFunds,
pm_card_authenticationRequired.

``dispute`` and ``close_dispute`` stand for a cardholder's bank: they create or decide a dispute of a
paid PaymentIntent (readable at ``GET /v1/disputes/{id}``) and record its event.

Every change the API makes is also recorded as an event (``events``), which ``signed`` wraps in a
delivery signed the way Stripe signs webhooks (``Stripe-Signature: t=…,v1=HMAC-SHA256``), for tests to
deliver once, several times or out of order.

At ``/v3/`` it also serves a stand-in for the few Stripe.js calls our card page makes (browser journeys
cannot reach js.stripe.com): a plain card-number field, and ``confirmCardSetup`` confirming the
SetupIntent here with the test payment method of the typed test number.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

CARDS = {
    "pm_card_visa": ("visa", "4242", None),
    "pm_card_chargeDeclined": ("visa", "0002", ("card_declined", None)),
    "pm_card_chargeDeclinedInsufficientFunds": ("visa", "9995", ("card_declined", "insufficient_funds")),
    "pm_card_authenticationRequired": ("visa", "3184", ("authentication_required", None)),
}


STRIPE_JS = """// Stand-in for Stripe.js (tests only): the calls static/stripe-card.js makes.
window.Stripe = function () {
  var api = "%(url)s";
  var methods = %(methods)s;
  var input;
  var card = {
    mount: function (selector) {
      input = document.createElement("input");
      input.setAttribute("aria-label", "Card number");
      input.setAttribute("inputmode", "numeric");
      document.querySelector(selector).appendChild(input);
    },
    on: function () {}
  };
  return {
    elements: function () { return { create: function () { return card; } }; },
    confirmCardPayment: function (secret, data) {
      return fetch(api + "/v1/payment_intents/" + secret.split("_secret")[0] + "/confirm", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "payment_method=" + data.payment_method
      }).then(function (answer) { return answer.json(); }).then(function (body) {
        return body.error ? { error: body.error } : { paymentIntent: body };
      });
    },
    confirmCardSetup: function (secret) {
      var method = methods[input.value.replace(/\\D/g, "")];
      if (!method) return Promise.resolve({ error: { message: "Your card number is incorrect." } });
      return fetch(api + "/v1/setup_intents/" + secret.split("_secret")[0] + "/confirm", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "payment_method=" + method
      }).then(function (answer) { return answer.json(); }).then(function (body) {
        return body.error ? { error: body.error } : { setupIntent: body };
      });
    }
  };
};
"""
TEST_NUMBERS = {
    "4242424242424242": "pm_card_visa",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000000000009995": "pm_card_chargeDeclinedInsufficientFunds",
    "4000002760003184": "pm_card_authenticationRequired",
}


class StripeStub:
    def __init__(self) -> None:
        self.objects: dict[str, dict] = {}
        self.idempotent: dict[str, tuple[str, int, dict]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.lose_next: list[str] = []
        self.events: list[dict] = []
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        for pm, (brand, last4, _) in CARDS.items():
            self.objects[pm] = {
                "id": pm,
                "object": "payment_method",
                "type": "card",
                "customer": None,
                "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034},
            }
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StripeStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_stub{next(self.ids)}"

    def emit(self, kind: str, obj: dict) -> None:
        self.events.append(
            {
                "id": self.new_id("evt"),
                "object": "event",
                "type": kind,
                "created": int(time.time()),
                "data": {"object": json.loads(json.dumps(obj))},
            }
        )

    def events_of(self, kind: str) -> list[dict]:
        return [event for event in self.events if event["type"] == kind]

    @staticmethod
    def signed(event: dict, secret: str, *, at: int | None = None) -> tuple[bytes, str]:
        """A delivery of ``event``: its body and the ``Stripe-Signature`` header Stripe would send."""
        body = json.dumps(event)
        stamp = int(time.time()) if at is None else at
        mac = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
        return body.encode(), f"t={stamp},v1={mac}"

    def dispute(self, payment_intent: str, *, reason: str = "fraudulent", due_by: int | None = None) -> dict:
        """The cardholder disputes a paid PaymentIntent with their bank: ``charge.dispute.created``."""
        with self.lock:
            intent = self.objects[payment_intent]
            obj = {
                "id": self.new_id("dp"),
                "object": "dispute",
                "amount": intent["amount"],
                "currency": intent["currency"],
                "charge": self.new_id("ch"),
                "payment_intent": payment_intent,
                "reason": reason,
                "status": "needs_response",
                "evidence_details": {"due_by": due_by or int(time.time()) + 21 * 86400},
            }
            self.objects[obj["id"]] = obj
            self.emit("charge.dispute.created", obj)
        return obj

    def close_dispute(self, dispute_id: str, status: str = "lost") -> None:
        """The bank decides (``won`` or ``lost``): ``charge.dispute.closed``."""
        with self.lock:
            self.objects[dispute_id]["status"] = status
            self.emit("charge.dispute.closed", self.objects[dispute_id])

    def update_card(self, method: str, **card) -> None:
        """The bank sent Stripe new card details: ``payment_method.automatically_updated``."""
        with self.lock:
            self.objects[method]["card"].update(card)
            self.emit("payment_method.automatically_updated", self.objects[method])

    def detach(self, method: str) -> None:
        """The card is taken off its customer (dashboard, API): ``payment_method.detached``."""
        with self.lock:
            self.objects[method]["customer"] = None
            self.emit("payment_method.detached", self.objects[method])

    def charges(self) -> int:
        """Payment intents that actually took money."""
        return sum(
            1 for o in self.objects.values() if o["object"] == "payment_intent" and o["status"] == "succeeded"
        )

    # --- endpoints -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        path, _, query = path.partition("?")
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        if method == "GET" and parts == ["payment_intents"]:
            since = int(dict(parse_qsl(query)).get("created[gte]", 0))
            intents = [
                o for o in self.objects.values() if o["object"] == "payment_intent" and o["created"] >= since
            ]
            return 200, {"object": "list", "url": "/v1/payment_intents", "has_more": False, "data": intents}
        if method == "GET":
            obj = self.objects.get(parts[-1])
            return (
                (200, obj)
                if obj
                else (404, _error("invalid_request_error", "resource_missing", "No such object"))
            )
        if parts == ["customers"]:
            obj = {"id": self.new_id("cus"), "object": "customer", "metadata": _sub(params, "metadata")}
        elif parts == ["setup_intents"]:
            sid = self.new_id("seti")
            obj = {
                "id": sid,
                "object": "setup_intent",
                "customer": params.get("customer"),
                "status": "requires_payment_method",
                "usage": params.get("usage"),
                "client_secret": f"{sid}_secret",
                "payment_method": None,
            }
        elif len(parts) == 3 and parts[0] == "setup_intents" and parts[2] == "confirm":
            obj = self.objects[parts[1]]
            obj.update(status="succeeded", payment_method=params["payment_method"])
            self.objects[params["payment_method"]]["customer"] = obj["customer"]
            self.emit("setup_intent.succeeded", obj)
        elif parts == ["payment_intents"]:
            if params.get("payment_method") not in CARDS:
                return 400, _error("invalid_request_error", "resource_missing", "No such PaymentMethod")
            pid = self.new_id("pi")
            obj = {
                "id": pid,
                "client_secret": f"{pid}_secret",
                "object": "payment_intent",
                "amount": int(params["amount"]),
                "currency": params["currency"],
                "customer": params.get("customer"),
                "payment_method": params["payment_method"],
                "metadata": _sub(params, "metadata"),
                "status": "requires_confirmation",
                "last_payment_error": None,
                "created": int(time.time()),
            }
        elif len(parts) == 3 and parts[0] == "payment_intents" and parts[2] == "confirm":
            obj = self.objects.get(parts[1])
            if obj is None:
                return 404, _error("invalid_request_error", "resource_missing", "No such payment_intent")
            if obj["status"] not in ("requires_confirmation", "requires_payment_method"):
                return 400, _error(
                    "invalid_request_error", "payment_intent_unexpected_state", "Already confirmed"
                )
            failure = CARDS[obj["payment_method"]][2]
            if params.get("off_session") != "true" and failure == ("authentication_required", None):
                failure = None  # on-session: the cardholder passed their bank's challenge
            if failure is None:
                obj["status"] = "succeeded"
                self.emit("payment_intent.succeeded", obj)
            else:
                code, decline = failure
                error = {
                    "code": code,
                    "decline_code": decline,
                    "message": "Your card was declined.",
                    "type": "card_error",
                }
                obj.update(status="requires_payment_method", last_payment_error=error)
                self.emit("payment_intent.payment_failed", obj)
                return 402, {"error": {**error, "payment_intent": obj}}
        elif len(parts) == 3 and parts[0] == "payment_intents" and parts[2] == "cancel":
            obj = self.objects.get(parts[1])
            if obj is None or obj["status"] in ("succeeded", "canceled"):
                return 400, _error(
                    "invalid_request_error", "payment_intent_unexpected_state", "Cannot be canceled"
                )
            obj["status"] = "canceled"
            self.emit("payment_intent.canceled", obj)
        elif parts == ["refunds"]:
            intent = self.objects.get(params.get("payment_intent", ""))
            if intent is None or intent["status"] != "succeeded":
                return 400, _error("invalid_request_error", "charge_not_refundable", "Not refundable")
            obj = {
                "id": self.new_id("re"),
                "object": "refund",
                "amount": int(params["amount"]),
                "payment_intent": intent["id"],
                "status": "succeeded",
            }
            self.emit(
                "charge.refunded",
                {"id": self.new_id("ch"), "object": "charge", "payment_intent": intent["id"]},
            )
        else:
            return 404, _error("invalid_request_error", "unknown_endpoint", f"Unknown {path}")
        self.objects[obj["id"]] = obj
        return 200, obj

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Request-Id", f"req_{len(stub.requests)}")
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, method: str) -> None:
                if method == "GET" and self.path.startswith("/v3"):
                    script = STRIPE_JS % {"url": stub.url, "methods": json.dumps(TEST_NUMBERS)}
                    self._send(200, script.encode(), "text/javascript")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                params = dict(parse_qsl(body, keep_blank_values=True))
                key = self.headers.get("Idempotency-Key")
                with stub.lock:
                    stub.requests.append((method, self.path, key))
                    fingerprint = f"{method} {self.path} {sorted(params.items())}"
                    if method == "POST" and key and key in stub.idempotent:
                        stored_fp, status, payload = stub.idempotent[key]
                        if stored_fp != fingerprint:
                            status, payload = (
                                400,
                                _error(
                                    "idempotency_error",
                                    None,
                                    "Keys for idempotent requests can only be used with the same parameters",
                                ),
                            )
                    else:
                        status, payload = stub.handle(method, self.path, params)
                        if method == "POST" and key:
                            stub.idempotent[key] = (fingerprint, status, json.loads(json.dumps(payload)))
                    lose = any(fragment in self.path for fragment in stub.lose_next)
                    if lose:
                        stub.lose_next = [f for f in stub.lose_next if f not in self.path]
                if lose:
                    self.close_connection = True
                    return
                self._send(status, json.dumps(payload).encode(), "application/json")

            def do_GET(self) -> None:  # noqa: N802 - http.server hook name
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802 - http.server hook name
                self._serve("POST")

        return Handler


def _sub(params: dict, name: str) -> dict:
    prefix = f"{name}["
    return {k[len(prefix) : -1]: v for k, v in params.items() if k.startswith(prefix)}


def _error(kind: str, code: str | None, message: str) -> dict:
    return {"error": {"type": kind, "code": code, "message": message}}
