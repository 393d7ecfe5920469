"""Structured JSON logs, one object per line, that never carry a password or a token."""

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# The operator the current request acts for (from the gateway's service token), named in every
# line logged while serving it.
current_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_actor", default=None
)

_SECRET_WORDS = r"password|passwd|secret|token|api[_-]?key|authorization"
_SECRET_PAIRS = re.compile(
    rf"""(?ix)
    (["']?(?:{_SECRET_WORDS})["']?\s*[:=]\s*)   # a secret's name, then : or =
    (?:"[^"]*"|'[^']*'|[^\s,;&}}]+)              # its value, quoted or bare
    """
)
_BEARER = re.compile(r"(?i)\b((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+(@)")


def redact(text: str) -> str:
    # Credentials after a scheme word go first: "Authorization: Bearer x" would otherwise
    # have only the word "Bearer" masked by the name=value rule.
    text = _BEARER.sub(r"\1***", text)
    text = _URL_PASSWORD.sub(r"\1***\2", text)
    return _SECRET_PAIRS.sub(r"\1***", text)


class ActorFilter(logging.Filter):
    """Stamps each record with the request's actor when it is logged (a record may be
    formatted later, elsewhere, out of the request's context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.actor = current_actor.get()
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        actor = getattr(record, "actor", None)
        if actor is not None:
            entry["actor"] = actor
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(ActorFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per HTTP request and per Kafka message is noise at INFO; httpx's request lines
    # would also carry query strings (search terms: names, e-mails, phones) into the logs,
    # where erasure cannot reach them.
    for noisy in ("uvicorn.access", "aiokafka", "faststream.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
