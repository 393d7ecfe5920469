"""Sign-in (OAuth2 password flow, refresh tokens), sign-out, and the caller's own identity."""

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from starlette.exceptions import HTTPException

from gateway.deps import DatabaseDep, SettingsDep
from gateway.identity import accounts, refresh_tokens, security
from gateway.identity.auth import PublicRoute, SignedIn, unauthorized
from gateway.identity.login_limit import LoginLimit
from gateway.identity.permissions import ROLE_PERMISSIONS, Role
from gateway.models import Operator
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.accounts import Me, Token
from gateway.schemas.common import problem_responses
from gateway.settings import GatewaySettings
from services.runtime.db import utcnow
from services.runtime.problems import Problem, field_error

router = APIRouter(prefix=API_PREFIX, tags=["auth"])


def _client_address(request: Request) -> str:
    # The peer as uvicorn reports it; behind a proxy, run uvicorn with --proxy-headers and
    # --forwarded-allow-ips so this is the client's address and not the proxy's.
    return request.client.host if request.client else "unknown"


def _answer(
    settings: GatewaySettings, operator: Operator, refresh: refresh_tokens.IssuedRefreshToken
) -> Token:
    now = utcnow()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    access, _ = security.issue_token(
        subject=operator.id,
        role=Role(operator.role),
        key=settings.jwt_key,
        now=now,
        lifetime=lifetime,
        session_version=operator.session_version,
    )
    return Token(
        access_token=access,
        expires_in=int(lifetime.total_seconds()),
        refresh_token=refresh.token,
        refresh_expires_in=max(0, int((refresh.expires_at - now).total_seconds())),
    )


def _invalid_grant(detail: str) -> Problem:
    # RFC 6749 answers a bad refresh token with 400 invalid_grant.
    return Problem(400, "Invalid grant", detail, extra={"error": "invalid_grant"})


@router.post(
    "/auth/token",
    response_model=Token,
    dependencies=[PublicRoute],
    responses=problem_responses(
        400,
        401,
        422,
        429,
        descriptions={
            400: "An unknown, used or expired refresh token (`error`: invalid_grant)",
            429: "Too many failed sign-ins for this username or address; "
            "the Retry-After header says how many seconds to wait",
        },
    ),
)
async def issue_token(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    grant_type: Annotated[Literal["password", "refresh_token"], Form()] = "password",
    username: Annotated[str | None, Form(max_length=200)] = None,
    password: Annotated[str | None, Form(max_length=1000)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str, Form(description="Ignored; roles decide access.")] = "",
) -> Token:
    """Sign in (OAuth2 token endpoint, form fields).

    `grant_type=password` with `username` and `password`; `grant_type=refresh_token` with the
    `refresh_token` of an earlier answer. Send the `access_token` as
    `Authorization: Bearer <token>`; it expires after `expires_in` seconds (ACCESS_TOKEN_MINUTES).
    A refresh token is good for one exchange: using it again revokes every token of that
    sign-in. After LOGIN_MAX_FAILURES failed sign-ins within LOGIN_WINDOW_SECONDS for a username
    or from an address, sign-in is refused with 429 and Retry-After.
    """
    refresh_lifetime = timedelta(days=settings.refresh_token_days)
    if grant_type == "refresh_token":
        if not refresh_token:
            raise _missing("refresh_token")
        async with db.transaction() as session:
            outcome = await refresh_tokens.exchange(
                session, refresh_token, now=utcnow(), lifetime=refresh_lifetime
            )
        if isinstance(outcome, refresh_tokens.Refused):
            raise _invalid_grant(outcome.reason)
        operator_id, successor = outcome.operator_id, outcome.successor
        async with db.sessions() as session:
            operator = await accounts.active_operator(session, operator_id)
        if operator is None:
            raise _invalid_grant("the operator no longer exists or is disabled")
        return _answer(settings, operator, successor)
    if not username:
        raise _missing("username")
    if password is None:
        raise _missing("password")
    window = timedelta(seconds=settings.login_window_seconds)
    limit = LoginLimit(settings.login_max_failures, window)
    address = _client_address(request)
    async with db.sessions() as session:
        wait = await limit.retry_after(session, username=username, address=address, now=utcnow())
    if wait is not None:
        raise HTTPException(
            429,
            f"too many failed sign-ins; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    async with db.sessions() as session:
        operator = await accounts.authenticate(session, username=username, password=password)
    if operator is None:
        async with db.transaction() as session:
            await limit.record_failure(session, username=username, address=address, now=utcnow())
        # One answer for an unknown name, a wrong password and a disabled operator.
        raise unauthorized("wrong username or password")
    async with db.transaction() as session:
        await limit.record_success(session, username=username)
        refresh = await refresh_tokens.issue(
            session, operator_id=operator.id, now=utcnow(), lifetime=refresh_lifetime
        )
    return _answer(settings, operator, refresh)


def _missing(field: str) -> Problem:
    return Problem(
        422,
        "Validation failed",
        f"{field} is required for this grant_type",
        errors=[field_error(field, "Field required")],
    )


@router.post(
    "/auth/logout",
    status_code=204,
    response_class=Response,
    dependencies=[PublicRoute],
    responses=problem_responses(422),
)
async def logout(
    db: DatabaseDep, refresh_token: Annotated[str, Form(min_length=1, max_length=200)]
) -> Response:
    """Sign out: the refresh token and every token exchanged from the same sign-in are revoked.

    Access tokens already handed out stay valid until they expire (ACCESS_TOKEN_MINUTES);
    the console forgets its own. An unknown token is answered the same way (nothing to reveal).
    """
    async with db.transaction() as session:
        await refresh_tokens.revoke(session, refresh_token, now=utcnow())
    return Response(status_code=204)


@router.get("/me", response_model=Me, responses=problem_responses(401))
async def me(principal: SignedIn) -> Me:
    """Who the credentials belong to, their role and what it permits (the console uses the
    permissions to offer only what the role may do)."""
    return Me(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        role=principal.role,
        permissions=sorted(ROLE_PERMISSIONS[principal.role]),
    )
