"""The gateway's proof to a service that it is the caller: a short-lived HS256 token signed with
SERVICE_TOKEN_SECRET, sent as `Authorization: Bearer`, naming the operator it acts for.

Services check it in one place (`require_service_token`, mounted by the app factory on every
route but health, metrics and docs). Whoever calls a service directly (tests, benchmarks, the
simulator) signs the same way through `ServiceTokenAuth`, never by turning the check off.
"""

import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.runtime.logging_setup import current_actor
from services.runtime.secret_files import read_or_create_secret
from services.runtime.settings import SERVICE_TOKEN_SECRET_FILE

ISSUER = "gateway"
AUDIENCE = "services"
# Long enough for one call and its retries, short enough that a token copied out of a log or a
# trace is worthless a minute later.
TOKEN_SECONDS = 60
# Clocks of the gateway's and a service's hosts may differ a little.
LEEWAY_SECONDS = 10
ALGORITHM = "HS256"
# Actors whose last token ServiceTokenAuth keeps (operators signed in at once, with room).
MINTED_KEPT = 1024
# Who a call acts for when no operator is behind it (the gateway's own background work).
SYSTEM_ACTOR = "gateway"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceCaller:
    """A verified service token: the operator (or machine) the gateway acts for."""

    actor: str


class InvalidServiceToken(Exception):
    pass


def mint_service_token(key: str, *, actor: str, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": actor,
        "iat": issued,
        "exp": issued + TOKEN_SECONDS,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


class VerifiedTokens:
    """Tokens already verified, kept until they expire, so a token seen again costs a dict
    look-up instead of an HMAC and a claims check.

    The gateway signs a token per call, but its claims have one-second resolution: every call
    for one operator within a second carries the same token, and a list page's bursts (the page,
    the next page) repeat it. Only verified tokens are kept (an invalid one is checked each time),
    each until its own `exp` plus the leeway `jwt.decode` grants, and the key is part of the
    entry, so nothing is accepted that a fresh check would refuse.
    """

    def __init__(self, *, max_entries: int = 1024, clock: Callable[[], float] = time.time) -> None:
        self._entries: dict[tuple[str, str], tuple[float, ServiceCaller]] = {}
        self._max_entries = max_entries
        self._clock = clock

    def read(self, key: str, token: str) -> ServiceCaller:
        now = self._clock()
        entry = self._entries.get((key, token))
        if entry is not None:
            if now < entry[0]:
                return entry[1]
            del self._entries[(key, token)]
        caller, expires = _verify(key, token)
        if len(self._entries) >= self._max_entries:
            self._drop_expired(now)
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
        self._entries[(key, token)] = (expires + LEEWAY_SECONDS, caller)
        return caller

    def _drop_expired(self, now: float) -> None:
        for cached, (valid_until, _) in list(self._entries.items()):
            if now > valid_until:
                del self._entries[cached]


def read_service_token(key: str, token: str) -> ServiceCaller:
    return _verify(key, token)[0]


def _verify(key: str, token: str) -> tuple[ServiceCaller, float]:
    """The caller a token names and its expiry (epoch seconds), or InvalidServiceToken."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "sub", "iat", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidServiceToken("the service token has expired") from None
    except jwt.PyJWTError as error:
        raise InvalidServiceToken(f"the service token is not valid ({error})") from None
    actor = claims["sub"]
    if not isinstance(actor, str) or not actor:
        raise InvalidServiceToken("the service token names no actor")
    return ServiceCaller(actor=actor), float(claims["exp"])


class ServiceTokenAuth(httpx.Auth):
    """httpx authentication that signs a fresh service token for every request.

    `actor` is called per request (the gateway reads the operator of the request it serves)."""

    def __init__(
        self,
        key: str,
        actor: str | Callable[[], str] = SYSTEM_ACTOR,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._actor = actor
        self._clock = clock
        # The last token of each actor and the second it was issued in: claims have one-second
        # resolution, so a token minted again within that second is the same string, and the
        # HMAC and JSON work of signing it was a tenth of the gateway's HTTP client per call.
        self._minted: dict[str, tuple[int, str]] = {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        actor = self._actor() if callable(self._actor) else self._actor
        issued = int(self._clock())
        minted = self._minted.get(actor)
        if minted is None or minted[0] != issued:
            if len(self._minted) >= MINTED_KEPT:
                self._minted.clear()
            minted = self._minted[actor] = (
                issued,
                mint_service_token(self._key, actor=actor, now=issued),
            )
        request.headers["Authorization"] = f"Bearer {minted[1]}"
        yield request


def service_token_secret_in(data_dir: Path) -> str:
    """The development secret `make run` keeps in DATA_DIR (for harnesses that call services
    started with a DATA_DIR and no SERVICE_TOKEN_SECRET)."""
    return read_or_create_secret(data_dir / SERVICE_TOKEN_SECRET_FILE)


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ServiceToken",
    description="A service token signed by the gateway (see services/runtime/service_auth.py).",
)


def _unauthorized(detail: str) -> HTTPException:
    # An HTTPException: the shared problem handler keeps its WWW-Authenticate header (RFC 9110).
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="services"'})


# One per process: the key is part of each entry, so apps with different keys (tests) share it.
_verified = VerifiedTokens()


async def require_service_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ServiceCaller:
    """The caller's verified service token, or 401 problem+json."""
    if credentials is None:
        raise _unauthorized("a service token is required: services answer the gateway only")
    key: str = request.app.state.service_token_key
    try:
        caller = _verified.read(key, credentials.credentials)
    except InvalidServiceToken as invalid:
        raise _unauthorized(str(invalid)) from None
    current_actor.set(caller.actor)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        # Every write names who asked for it in the service's own log, not only the gateway's.
        log.info("%s %s by %s", request.method, request.url.path, caller.actor)
    return caller
