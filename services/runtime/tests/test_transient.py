"""What counts as the database or broker being away (retried, 503) and what does not."""

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError

from services.runtime.transient import is_transient


class _PostgresError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
        OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 5432), ..."),
        OSError(113, "No route to host"),
        DBAPIError("SELECT 1", {}, _PostgresError("the database system is starting up", "57P03")),
        DBAPIError("SELECT 1", {}, _PostgresError("terminating connection", "57P01")),
        DBAPIError("SELECT 1", {}, _PostgresError("too many connections", "53300")),
        DBAPIError("SELECT 1", {}, _PostgresError("connection failure", "08006")),
        InterfaceError("SELECT 1", {}, Exception("connection is closed")),
    ],
)
def test_an_unavailable_database_is_transient(error: BaseException) -> None:
    assert is_transient(error)


def test_a_dropped_connection_is_transient_whatever_its_class() -> None:
    error = DBAPIError("SELECT 1", {}, Exception("x"), connection_invalidated=True)
    assert is_transient(error)


def test_a_transient_cause_makes_the_wrapping_error_transient() -> None:
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError as cause:
            raise RuntimeError("could not finish") from cause
    except RuntimeError as error:
        assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad data"),
        FileNotFoundError(2, "No such file or directory"),
        IntegrityError("INSERT", {}, _PostgresError("duplicate key", "23505")),
        DBAPIError("SELECT", {}, _PostgresError("division by zero", "22012")),
    ],
)
def test_what_the_request_or_record_did_is_not_transient(error: BaseException) -> None:
    assert not is_transient(error)
