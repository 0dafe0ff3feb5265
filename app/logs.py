"""Logging: one JSON object a line in production (plain text in development), each line carrying the
id of the request it belongs to, in the web process and in the worker's lines for jobs that request
queued. Log ids and route templates, never names, addresses, card numbers or typed text.
"""

from __future__ import annotations

import json
import logging
import os
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
VERBOSE_LOGGERS = ("stillwater", "workers", "arq")
"""Loggers kept at INFO in production (the rest at WARNING): request lines, jobs, outages."""


class JsonLines(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id"?, "error"?}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def wants_json(debug: bool) -> bool:
    """``LOG_FORMAT`` (``json`` or ``plain``) decides; otherwise JSON outside debug."""
    chosen = os.environ.get("LOG_FORMAT", "").strip().lower()
    return chosen == "json" if chosen in {"json", "plain"} else not debug


def configure_logging(debug: bool) -> None:
    """Send every logger's lines to stderr in the chosen format (replacing handlers set before, such
    as uvicorn's and arq's own). uvicorn's access lines are off: they hold raw paths (invitation
    tokens, ids); ``ObserveRequests`` logs each request by its route instead."""
    access = logging.getLogger("uvicorn.access")
    access.handlers, access.propagate = [], False
    if not wants_json(debug):
        logging.basicConfig(level=logging.INFO if debug else logging.WARNING)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO if debug else logging.WARNING)
    for name in (*VERBOSE_LOGGERS, "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
        if name in VERBOSE_LOGGERS or name == "uvicorn.error":
            logger.setLevel(logging.INFO)
