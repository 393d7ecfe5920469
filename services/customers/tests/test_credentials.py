"""Custom logins follow the rules; generated logins and passwords are numeric; hashes are
argon2 and verify only the right password."""

import os
import threading

import pytest

from services.customers import credentials
from services.customers.schemas import CredentialsIn


@pytest.mark.parametrize(
    "login", ["jan", "jane.doe", "jane_doe-2", "jane+tv@example.com", "0123456789", "a" * 64]
)
def test_acceptable_custom_logins(login: str) -> None:
    assert credentials.login_problem(login) is None


@pytest.mark.parametrize(
    "login",
    ["", "ab", "a" * 65, "jane doe", " jane", "jane\t", "jané", "jane/doe", "jane;drop", "jane\n"],
)
def test_refused_custom_logins(login: str) -> None:
    assert credentials.login_problem(login) is not None


def test_credentials_in_refuses_a_bad_login_with_the_rule() -> None:
    with pytest.raises(ValueError, match="3 to 64 characters"):
        CredentialsIn(login="a b", password="secret-enough")


def test_credentials_in_refuses_a_short_password() -> None:
    with pytest.raises(ValueError, match="password"):
        CredentialsIn(login="jane", password="12345")


def test_generated_logins_are_ten_digits_without_a_leading_zero() -> None:
    logins = [credentials.generate_login() for _ in range(2000)]
    assert all(len(login) == 10 and login.isdecimal() for login in logins)
    assert all(login[0] != "0" for login in logins)
    assert all(credentials.login_problem(login) is None for login in logins)
    assert len(set(logins)) > 1990
    assert {login[0] for login in logins} == set("123456789")


def test_generated_passwords_are_numeric() -> None:
    passwords = [credentials.generate_password() for _ in range(2000)]
    assert all(len(p) == credentials.GENERATED_PASSWORD_DIGITS and p.isdecimal() for p in passwords)
    assert len(set(passwords)) > 1990
    # The first digit may be zero: all ten occur.
    assert {p[0] for p in passwords} == set("0123456789")
    # Good enough to be accepted as a custom password too.
    assert CredentialsIn(login="jane", password=passwords[0]).password == passwords[0]


def test_a_password_hash_is_argon2id_and_verifies_only_the_right_password() -> None:
    hashed = credentials.hash_password("84736251")

    assert hashed.startswith("$argon2id$")
    assert "84736251" not in hashed
    assert credentials.verify_password(hashed, "84736251")
    assert not credentials.verify_password(hashed, "84736252")
    assert not credentials.verify_password(hashed, "")


def test_the_same_password_hashes_differently_each_time() -> None:
    assert credentials.hash_password("84736251") != credentials.hash_password("84736251")


async def test_the_hash_pool_hashes_a_batch_on_its_threads_in_order() -> None:
    pool = credentials.HashPool(2)
    seen_threads: set[str] = set()
    hash_password = credentials.hash_password

    def recording(password: str) -> str:
        seen_threads.add(threading.current_thread().name)
        return hash_password(password)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(credentials, "hash_password", recording)
            hashes = await pool.hash_all(["11111111", "22222222", "33333333", "44444444"])
    finally:
        pool.shutdown()
    assert [
        credentials.verify_password(h, p)
        for h, p in zip(hashes, ["11111111", "22222222", "33333333", "44444444"], strict=True)
    ] == [True] * 4
    assert seen_threads and all(name.startswith("argon2") for name in seen_threads)
    assert len(seen_threads) <= 2


def test_the_hash_pool_is_sized_to_the_cores_unless_told() -> None:
    assert credentials.HashPool().workers == (os.cpu_count() or 1)
    pool = credentials.HashPool()
    pool.resize(3)
    assert pool.workers == 3
    pool.resize(0)
    assert pool.workers == (os.cpu_count() or 1)
