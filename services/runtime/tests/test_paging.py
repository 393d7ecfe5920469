"""The one cursor codec: what it gives back, and every cursor it refuses."""

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from services.runtime.paging import MAX_CURSOR_LENGTH, Keyset, SortInt
from services.runtime.problems import Problem

INVOICES = Keyset("billing.invoices", tuple[datetime, str])
BY_STATUS = Keyset("customers.by_status", tuple[int, str])
BY_EXPIRY = Keyset("customers.by_expires_at", tuple[datetime | None, str])
AT = datetime(2026, 11, 28, 10, 0, 1, 250000, tzinfo=UTC)


def refusal(keyset: Keyset[Any], cursor: str) -> Problem:
    with pytest.raises(Problem) as raised:
        keyset.decode(cursor)
    return raised.value


def test_round_trip_gives_back_the_typed_values() -> None:
    assert INVOICES.decode(INVOICES.encode((AT, "tx-9"))) == (AT, "tx-9")
    assert BY_STATUS.decode(BY_STATUS.encode((3, "c-1"))) == (3, "c-1")
    assert BY_EXPIRY.decode(BY_EXPIRY.encode((None, "c-2"))) == (None, "c-2")
    names = Keyset("customers.by_name", tuple[str, str])
    assert names.decode(names.encode(("žofie ñandú " * 18, "c-3"))) == ("žofie ñandú " * 18, "c-3")


def test_a_cursor_is_url_safe_and_unpadded() -> None:
    cursor = INVOICES.encode((AT, "a/b+c=d?e&f"))
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_the_longest_customer_name_key_fits_the_length_limit() -> None:
    names = Keyset("customers.by_name", tuple[str, str])
    longest = ("\U0001d538" * 201, "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10")  # 4 bytes a character
    cursor = names.encode(longest)
    assert len(cursor) <= MAX_CURSOR_LENGTH


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "AAAA",
        "x" * 12,
        base64.urlsafe_b64encode(b'["2026-11-28", "a"]').decode(),
    ],
)
def test_garbage_is_a_422_naming_cursor(cursor: str) -> None:
    problem = refusal(INVOICES, cursor)
    assert problem.status == 422
    assert problem.extra["errors"] == [{"field": "cursor", "message": "not a cursor of this list"}]


def test_a_tampered_cursor_is_refused() -> None:
    cursor = INVOICES.encode((AT, "tx-9"))
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 0x01  # one bit of the id
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert refusal(INVOICES, tampered).status == 422


def test_a_cursor_of_another_list_is_refused_even_with_the_same_shape() -> None:
    transactions = Keyset("billing.transactions", tuple[datetime, str])
    assert refusal(INVOICES, transactions.encode((AT, "tx-9"))).status == 422
    assert refusal(BY_STATUS, INVOICES.encode((AT, "tx-9"))).status == 422


def test_a_cursor_over_the_length_limit_is_refused_by_name() -> None:
    problem = refusal(INVOICES, "A" * (MAX_CURSOR_LENGTH + 1))
    assert problem.extra["errors"] == [
        {"field": "cursor", "message": f"longer than {MAX_CURSOR_LENGTH} characters"}
    ]


def test_cut_keeps_the_page_and_names_its_last_row_only_when_there_is_more() -> None:
    numbers = Keyset("test.numbers", tuple[int])
    assert numbers.cut([1, 2], 2, lambda n: (n,)) == ([1, 2], None)
    page, cursor = numbers.cut([1, 2, 3], 2, lambda n: (n,))
    assert page == [1, 2] and cursor is not None and numbers.decode(cursor) == (2,)


@pytest.mark.parametrize("values", [(10**30, "c-1"), (2**31, "c-1"), (1, "c\x00")])
def test_a_hand_made_cursor_past_what_sql_takes_is_refused(values: tuple[int, str]) -> None:
    """The checksum's key is public: a cursor can be made by hand with any value its types
    allow. An integer past the column's range or a NUL would reach the database as a 500."""
    unbounded = Keyset("customers.customers.status", tuple[int, str])
    bounded = Keyset("customers.customers.status", tuple[SortInt, str])
    with pytest.raises(Problem) as refused:
        bounded.decode(unbounded.encode(values))
    assert refused.value.status == 422
