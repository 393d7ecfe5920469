"""Verified credentials remembered, so a request does not pay for a check another one just made.

Two caches, both bounded (the oldest entry goes first when full) so a client sending many
distinct credentials cannot grow the gateway's memory:

- `TokenCache`: a bearer token's verified claims, until the token's own expiry. Verifying the
  signature and claims again would give the same answer until then; what may change meanwhile
  (the operator disabled, demoted, signed out everywhere) is decided by the operator lookup,
  which every request still makes (`OperatorCache`). Only tokens that verified are kept.
- `ApiKeyCache`: an API key's row, for `ttl_seconds` (OPERATOR_CACHE_SECONDS, like operators).
  A revocation made through this gateway forgets the key at once in this process; other gateway
  replicas stop accepting it at most `ttl_seconds` after the revocation is committed (an entry
  is timed from before its read began). Unknown or revoked keys are not kept: they are read
  every time, as before, so a key created a moment later works at once.
"""

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.identity.permissions import Role
from gateway.identity.security import ValidToken

DEFAULT_MAX_ENTRIES = 4096


class TokenCache:
    """Tokens that verified, with their claims, until they expire."""

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, ValidToken] = OrderedDict()

    def get(self, token: str) -> ValidToken | None:
        valid = self._entries.get(token)
        if valid is None:
            return None
        if self._clock() >= valid.expires_at:
            # Expired: the full check says so, with its own reason.
            del self._entries[token]
            return None
        return valid

    def put(self, token: str, valid: ValidToken) -> None:
        if self.max_entries <= 0:
            return
        self._entries[token] = valid
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


@dataclass(frozen=True)
class ActiveApiKey:
    id: str
    name: str
    role: Role


class ApiKeyCache:
    """Active API keys by the hash of the key, for `ttl_seconds`."""

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[ActiveApiKey, float]] = OrderedDict()

    async def active(
        self, key_hash: str, read: Callable[[], Awaitable[ActiveApiKey | None]]
    ) -> ActiveApiKey | None:
        started = self._clock()
        cached = self._entries.get(key_hash)
        if cached is not None and started - cached[1] < self.ttl_seconds:
            return cached[0]
        found = await read()
        if found is None:
            self._entries.pop(key_hash, None)
        elif self.ttl_seconds > 0 and self.max_entries > 0:
            self._entries[key_hash] = (found, started)
            self._entries.move_to_end(key_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return found

    def forget(self, key_id: str) -> None:
        """Drop the key with this id (revoked here): at most `max_entries` to look through."""
        for key_hash, (key, _) in list(self._entries.items()):
            if key.id == key_id:
                del self._entries[key_hash]


@dataclass
class CredentialCaches:
    """The two caches one gateway process holds (app.state.credential_caches)."""

    tokens: TokenCache
    api_keys: ApiKeyCache
