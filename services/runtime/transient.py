"""Tells a failure that says "the database or the broker is away, try again later" from one that
says something about the request or the record itself.

The consumer retries the first kind for as long as it takes and never dead-letters a record for
it; HTTP answers it with 503 and Retry-After instead of 500. While PostgreSQL is stopped or
starting again, asyncpg and SQLAlchemy raise a handful of unrelated classes: a refused connect
(a bare `ConnectionRefusedError`), a dropped connection (`InterfaceError`, marked
`connection_invalidated`), "the database system is starting up" (a plain `DBAPIError` whose
SQLSTATE is 57P03). They are recognised here, once, by type and by SQLSTATE class.
"""

import errno
import socket

from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# Seconds a client is asked to wait before retrying a request refused for an outage.
RETRY_AFTER_SECONDS = 2

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    # SQLite's "database is locked" and PostgreSQL's server-side connection failures.
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
    # Raised bare by asyncpg's connect (refused, reset, timed out, a name that does not
    # resolve) and by aiokafka. Not every OSError: a missing file is a bug, not an outage.
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    KafkaError,
)

_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
)

# SQLSTATE classes and codes of a server that cannot serve now: 08 connection exception,
# 53 insufficient resources (too many connections, out of disk), 57P01-57P05 shutting down,
# crashed, starting up, database dropped, idle session timeout; 40001/40P01 a serialization
# failure or deadlock, which the same transaction run again resolves.
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P", "40001", "40P01")


def is_transient(error: BaseException) -> bool:
    """True if `error`, or what it wraps, means the database or broker is unavailable now."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _TRANSIENT_TYPES) or _transient_sqlstate(current):
            return True
        if isinstance(current, OSError) and _network_failure(current):
            return True
        if isinstance(current, DBAPIError):
            if current.connection_invalidated:
                return True
            if isinstance(current.orig, BaseException):
                pending.append(current.orig)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False


def _network_failure(error: OSError) -> bool:
    # asyncio's connect to a host with several addresses (localhost: ::1 and 127.0.0.1) raises
    # a plain OSError("Multiple exceptions: ...") without an errno when all of them failed.
    return error.errno in _NETWORK_ERRNOS or (
        error.errno is None and str(error).startswith("Multiple exceptions")
    )


def _transient_sqlstate(error: object) -> bool:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return isinstance(state, str) and state.startswith(_TRANSIENT_SQLSTATE_PREFIXES)
