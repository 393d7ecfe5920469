"""Who is calling and what they may do: bearer tokens for operators, X-API-Key for machines.

Routes declare what they need with the aliases at the bottom (`CanSell`, `CanReadCustomers`, ...);
a missing or bad credential is 401 with WWW-Authenticate, a role without the permission 403.
Every dependency that decides access is tagged (`ROUTE_ACCESS_ATTRIBUTE`), so `route_access`
tells what any route requires and a test can hold every route of the app to it.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Security
from fastapi.dependencies.models import Dependant
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
    OAuth2PasswordBearer,
)
from starlette.exceptions import HTTPException

from gateway.deps import CredentialCachesDep, DatabaseDep, OperatorCacheDep, SettingsDep
from gateway.downstream import acting_for
from gateway.identity import accounts, security
from gateway.identity.credential_cache import ActiveApiKey
from gateway.identity.permissions import Permission, Role, allows
from services.runtime.db import Database
from services.runtime.problems import Problem

TOKEN_URL = "/api/v1/auth/token"

# What a route requires: a Permission, or one of these two.
ROUTE_ACCESS_ATTRIBUTE = "__route_access__"
PUBLIC = "public"
SIGNED_IN = "signed-in"
RouteAccess = Permission | Literal["public", "signed-in"]

_bearer = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    scheme_name="OperatorToken",
    description="Operators: sign in with username and password.",
)
# The same `Authorization: Bearer` header as OperatorToken, described as plain HTTP bearer auth:
# what a client that already holds a token (a script, a generated client, a contract fuzzer)
# knows how to send; OperatorToken is what gives Swagger UI its sign-in form.
_http_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="BearerToken",
    bearerFormat="JWT",
    description="An access token from /api/v1/auth/token.",
)
_api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="Machines (dashboards): a key an admin created at /api/v1/api-keys.",
)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: an operator or an API key, and its role."""

    kind: Literal["operator", "api_key"]
    id: str
    name: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


def unauthorized(detail: str, *, error: str | None = None) -> HTTPException:
    # An HTTPException rather than a Problem: the shared problem handler passes its headers on,
    # and RFC 9110 wants WWW-Authenticate on every 401.
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


async def get_principal(
    db: DatabaseDep,
    settings: SettingsDep,
    operators: OperatorCacheDep,
    caches: CredentialCachesDep,
    token: Annotated[str | None, Security(_bearer)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_http_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal:
    token = token or (bearer.credentials if bearer else None)
    if api_key:
        key = await caches.api_keys.active(
            security.hash_api_key(api_key), lambda: _read_api_key(db, api_key)
        )
        if key is None:
            raise unauthorized("the API key is unknown or revoked")
        acting_for.set(f"api_key:{key.name}")
        return Principal(kind="api_key", id=key.id, name=key.name, role=key.role)
    if token:
        valid = caches.tokens.get(token)
        if valid is None:
            try:
                valid = security.read_token(token, key=settings.jwt_key)
            except security.InvalidToken as invalid:
                raise unauthorized(f"invalid token: {invalid}", error="invalid_token") from None
            caches.tokens.put(token, valid)
        operator = await operators.active(db, valid.subject)
        if operator is None:
            raise unauthorized(
                "the operator no longer exists or is disabled", error="invalid_token"
            )
        if operator.session_version != valid.session_version:
            raise unauthorized(
                "the session has ended (new password, or the account was disabled or enabled); "
                "sign in again",
                error="invalid_token",
            )
        acting_for.set(operator.username)
        # The role comes from the database, not the token: a demotion or a disabling takes
        # effect within the operator cache's few seconds instead of when the token expires.
        return Principal(
            kind="operator", id=operator.id, name=operator.username, role=Role(operator.role)
        )
    raise unauthorized("sign in at /api/v1/auth/token or send an X-API-Key header")


async def _read_api_key(db: Database, api_key: str) -> ActiveApiKey | None:
    async with db.sessions() as session:
        key = await accounts.active_api_key(session, api_key)
    return None if key is None else ActiveApiKey(key.id, key.name, Role(key.role))


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through only callers whose role has `permission`."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Problem(
                403,
                "Forbidden",
                f"the {principal.role} role lacks the {permission} permission",
                extra={"permission": permission.value},
            )
        return principal

    setattr(check, ROUTE_ACCESS_ATTRIBUTE, permission)
    return check


CanReadCustomers = Annotated[Principal, Depends(require(Permission.CUSTOMERS_READ))]
CanReadCatalog = Annotated[Principal, Depends(require(Permission.CATALOG_READ))]
CanSell = Annotated[Principal, Depends(require(Permission.CUSTOMERS_WRITE))]
CanEditCatalog = Annotated[Principal, Depends(require(Permission.CATALOG_WRITE))]
CanManageOperators = Annotated[Principal, Depends(require(Permission.OPERATORS_MANAGE))]
CanManageApiKeys = Annotated[Principal, Depends(require(Permission.API_KEYS_MANAGE))]
CanReadAudit = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]
CanManageDeadLetters = Annotated[Principal, Depends(require(Permission.DEAD_LETTERS_MANAGE))]


async def _signed_in(principal: CurrentPrincipal) -> Principal:
    return principal


async def _public() -> None:
    """Marks a route that needs no credentials (sign-in itself)."""


setattr(_signed_in, ROUTE_ACCESS_ATTRIBUTE, SIGNED_IN)
setattr(_public, ROUTE_ACCESS_ATTRIBUTE, PUBLIC)

# Any valid credential, whatever its role (the caller's own identity).
SignedIn = Annotated[Principal, Depends(_signed_in)]
# For `dependencies=[PublicRoute]` on a route that needs no credentials.
PublicRoute: Any = Depends(_public)


def route_access(dependant: Dependant) -> set[RouteAccess]:
    """Every access requirement declared anywhere in a route's dependencies (its dependant)."""
    found: set[RouteAccess] = set()

    def walk(dependant: Dependant) -> None:
        declared = getattr(dependant.call, ROUTE_ACCESS_ATTRIBUTE, None)
        if declared is not None:
            found.add(declared)
        for sub in dependant.dependencies:
            walk(sub)

    walk(dependant)
    return found
