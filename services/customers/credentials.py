"""Logins and passwords: the rules for custom ones, generation of numeric ones, argon2 hashes."""

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

# argon2id with OWASP's minimum profile (19 MiB, 2 passes): ~15 ms a hash instead of ~60 ms at
# the library default, which matters when a webshop sends a burst of orders.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

LOGIN_PATTERN = re.compile(r"[A-Za-z0-9._@+-]{3,64}")
GENERATED_LOGIN_DIGITS = 10
GENERATED_PASSWORD_DIGITS = 8


def login_problem(login: str) -> str | None:
    """Why `login` is not acceptable as a custom login, or None."""
    if not LOGIN_PATTERN.fullmatch(login):
        return "3 to 64 characters: letters, digits and . _ @ + - only, no spaces"
    return None


def generate_login() -> str:
    # No leading zero, so the login survives being typed into a numeric field.
    first = str(secrets.choice(range(1, 10)))
    return first + "".join(secrets.choice("0123456789") for _ in range(GENERATED_LOGIN_DIGITS - 1))


def generate_password() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(GENERATED_PASSWORD_DIGITS))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False
