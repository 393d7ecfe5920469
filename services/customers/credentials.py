"""Logins and passwords: the rules for custom ones, generation of numeric ones, argon2 hashes."""

import asyncio
import os
import re
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

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


class HashPool:
    """Threads for argon2, one per core by default: argon2-cffi releases the GIL while it
    hashes, so a batch of new buyers' passwords is hashed on every core at once instead of one
    after another on the event loop's default executor (shared with everything else)."""

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._executor: ThreadPoolExecutor | None = None

    def resize(self, workers: int) -> None:
        """From the service's settings at start (0: one per core)."""
        self.shutdown()
        self.workers = workers or os.cpu_count() or 1

    async def hash_all(self, passwords: Sequence[str]) -> list[str]:
        if not passwords:
            return []
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="argon2")
        loop = asyncio.get_running_loop()
        executor = self._executor
        return list(
            await asyncio.gather(
                *(loop.run_in_executor(executor, hash_password, p) for p in passwords)
            )
        )

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None


# The service's one pool (sized by CUSTOMERS_HASH_WORKERS when it starts).
hash_pool = HashPool()


async def hash_passwords(passwords: Sequence[str]) -> list[str]:
    """The argon2 hashes of `passwords`, in order, computed side by side in the hash pool."""
    return await hash_pool.hash_all(passwords)


async def hash_one(password: str) -> str:
    [password_hash] = await hash_pool.hash_all([password])
    return password_hash


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False
