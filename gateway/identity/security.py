"""Secrets handling: argon2 password hashes, signed access tokens (JWT HS256) and API keys."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.identity.permissions import Role

JWT_ALGORITHM = "HS256"
API_KEY_PREFIX = "tvcm"

# Library defaults (RFC 9106 low-memory profile): operators sign in rarely, so the stronger
# profile costs nothing that matters.
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def burn_verification_time(password: str) -> None:
    """Spend what a real check costs, so an unknown username is not told apart by timing."""
    verify_password(_dummy_hash(), password)


def generate_password() -> str:
    return secrets.token_urlsafe(18)


# Who signs the tokens and for whom: a token signed for another service with a shared key (or
# by another deployment's gateway with the same key) is not ours to accept.
TOKEN_ISSUER = "tvcm-gateway"
TOKEN_AUDIENCE = "tvcm-api"


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    role: Role
    expires_at: datetime
    session_version: int


def issue_token(
    *,
    subject: str,
    role: Role,
    key: str,
    now: datetime,
    lifetime: timedelta,
    session_version: int = 0,
) -> tuple[str, TokenClaims]:
    """A signed access token for `subject` (an operator id) and the claims it carries;
    `session_version` is the operator's when it was issued (a newer one ends the token)."""
    claims = TokenClaims(
        subject=subject, role=role, expires_at=now + lifetime, session_version=session_version
    )
    token = jwt.encode(
        {
            "sub": subject,
            "role": role.value,
            "sv": session_version,
            "iss": TOKEN_ISSUER,
            "aud": TOKEN_AUDIENCE,
            "iat": now,
            "exp": claims.expires_at,
        },
        key,
        algorithm=JWT_ALGORITHM,
    )
    return token, claims


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired or lacks a claim."""


@dataclass(frozen=True)
class ValidToken:
    subject: str
    session_version: int
    # The `exp` claim, seconds since the epoch: how long the verified claims may be remembered.
    expires_at: float


def read_token(token: str, *, key: str) -> ValidToken:
    """The subject and session version of a valid token; raises InvalidToken otherwise."""
    try:
        # Pinning the algorithm refuses "alg: none" and key-confusion tricks.
        payload = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            issuer=TOKEN_ISSUER,
            audience=TOKEN_AUDIENCE,
            options={"require": ["sub", "exp", "iss", "aud", "sv"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise InvalidToken("the token has expired") from error
    except jwt.PyJWTError as error:
        # The library's own text (which check failed, how the token is malformed) helps an
        # attacker probe more than it helps a client: one plain reason.
        raise InvalidToken("the token is malformed or its signature is wrong") from error
    subject, version = payload.get("sub"), payload.get("sv")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("no subject")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidToken("the token is malformed or its signature is wrong")
    return ValidToken(subject, version, float(payload["exp"]))


@dataclass(frozen=True)
class NewApiKey:
    key: str
    prefix: str
    hash: str


def generate_api_key() -> NewApiKey:
    """`tvcm_<8 hex>_<secret>`; the visible prefix identifies the key in lists and logs."""
    prefix = f"{API_KEY_PREFIX}_{secrets.token_hex(4)}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key=key, prefix=prefix, hash=hash_api_key(key))


def hash_api_key(key: str) -> str:
    # A fast hash is enough: the key carries 256 random bits, so there is nothing to guess
    # that a slow hash would protect; and it lets the key be looked up by its hash.
    return hashlib.sha256(key.encode()).hexdigest()
