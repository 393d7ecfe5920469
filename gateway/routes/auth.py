"""Sign-in (OAuth2 password flow) and the caller's own identity."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from gateway import accounts, security
from gateway.auth import CurrentPrincipal, unauthorized
from gateway.deps import DatabaseDep, SettingsDep
from gateway.permissions import ROLE_PERMISSIONS, Role
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.accounts import Me, Token
from gateway.schemas.common import problem_responses
from services.runtime.db import utcnow

router = APIRouter(prefix=API_PREFIX, tags=["auth"])


@router.post("/auth/token", response_model=Token, responses=problem_responses(401, 422))
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DatabaseDep,
    settings: SettingsDep,
) -> Token:
    """Sign in with an operator's username and password (form fields, OAuth2 password flow).

    Send the `access_token` as `Authorization: Bearer <token>`; it expires after
    `expires_in` seconds (ACCESS_TOKEN_MINUTES), then sign in again.
    """
    async with db.sessions() as session:
        operator = await accounts.authenticate(
            session, username=form.username, password=form.password
        )
    if operator is None:
        # One answer for an unknown name, a wrong password and a disabled operator.
        raise unauthorized("wrong username or password")
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token, _ = security.issue_token(
        subject=operator.id,
        role=Role(operator.role),
        key=settings.jwt_key,
        now=utcnow(),
        lifetime=lifetime,
    )
    return Token(access_token=token, expires_in=int(lifetime.total_seconds()))


@router.get("/me", response_model=Me, responses=problem_responses(401))
async def me(principal: CurrentPrincipal) -> Me:
    """Who the credentials belong to, their role and what it permits."""
    return Me(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        role=principal.role,
        permissions=sorted(ROLE_PERMISSIONS[principal.role]),
    )
