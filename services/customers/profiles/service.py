"""Profiles of an account: who is watching. Every customer gets a default one when created;
an account has 1 to MAX_PROFILES profiles with names unique ignoring case and accents; PINs are
kept as argon2 hashes only. The operator's API and the apps' events share these rules."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts import topics
from services.contracts.apps import ProfileDeleteV1
from services.contracts.customers import ProfileCreatedV1, ProfileDeletedV1
from services.contracts.profiles import PIN_PATTERN, Avatar
from services.customers import credentials
from services.customers.models import Customer
from services.customers.name_keys import fold
from services.customers.profiles.models import Profile
from services.runtime.db import utcnow
from services.runtime.outbox import EventSink, Outbox
from services.runtime.paging import Page
from services.runtime.problems import Problem, field_error

MAX_PROFILES = 10
DEFAULT_PROFILE_NAME = "Main"
DEFAULT_AVATAR: Avatar = "default"


class ProfileCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=40)
    kids: StrictBool = False
    pin: str | None = Field(default=None, pattern=PIN_PATTERN, description="4 to 8 digits.")
    avatar: Avatar = DEFAULT_AVATAR


class ProfileUpdate(BaseModel):
    """Only the fields sent change; `"pin": null` removes the PIN."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=40)
    kids: StrictBool | None = None
    pin: str | None = Field(default=None, pattern=PIN_PATTERN, description="4 to 8 digits.")
    avatar: Avatar | None = None


class ProfilePublic(BaseModel):
    id: str
    customer_id: str
    name: str
    kids: bool
    has_pin: bool
    avatar: str
    is_default: bool
    created_at: datetime
    updated_at: datetime


class ProfileList(Page[ProfilePublic]):
    """Every profile of the account (a handful): one page, no cursor."""


def to_public(profile: Profile) -> ProfilePublic:
    return ProfilePublic(
        id=profile.id,
        customer_id=profile.customer_id,
        name=profile.name,
        kids=profile.kids,
        has_pin=profile.pin_hash is not None,
        avatar=profile.avatar,
        is_default=profile.is_default,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


def default_profile_row(customer_id: str, created_at: datetime) -> dict[str, Any]:
    """The profile every new customer starts with, as the columns of its row."""
    return {
        "id": str(uuid.uuid4()),
        "customer_id": customer_id,
        "name": DEFAULT_PROFILE_NAME,
        "kids": False,
        "pin_hash": None,
        "avatar": DEFAULT_AVATAR,
        "is_default": True,
        "created_at": created_at,
        "updated_at": created_at,
    }


async def announce_created(
    session: AsyncSession, outbox: EventSink, profile: Profile | dict[str, Any]
) -> None:
    """profile.created.v1; a new customer's default profile's follows its customer.created."""
    fields = profile if isinstance(profile, dict) else to_public(profile).model_dump()
    await outbox.add(
        session,
        ProfileCreatedV1(
            customer_id=fields["customer_id"],
            profile_id=fields["id"],
            name=fields["name"],
            kids=fields["kids"],
            created_at=fields["created_at"],
        ),
        topic=topics.CUSTOMERS_EVENTS,
        key=fields["customer_id"],
        subject=fields["customer_id"],
    )


async def create_default_profile(
    session: AsyncSession, outbox: Outbox, *, customer_id: str, created_at: datetime
) -> Profile:
    profile = Profile(**default_profile_row(customer_id, created_at))
    session.add(profile)
    await session.flush()
    await announce_created(session, outbox, profile)
    return profile


async def _require_customer(session: AsyncSession, customer_id: str, *, lock: bool) -> None:
    query = select(Customer.id).where(Customer.id == customer_id)
    if lock:
        # Serialises profile writes of one account, so two creates cannot both pass the limit.
        query = query.with_for_update()
    if await session.scalar(query) is None:
        raise Problem(404, "Customer not found", f"no customer with id {customer_id}")


async def _profile(session: AsyncSession, customer_id: str, profile_id: str) -> Profile:
    profile = await session.get(Profile, profile_id)
    if profile is None or profile.customer_id != customer_id:
        raise Problem(404, "Profile not found", f"no profile {profile_id} for this customer")
    return profile


async def _name_taken(
    session: AsyncSession, customer_id: str, name: str, *, other_than: str | None = None
) -> None:
    # "Zoë" and "zoe" are one name to a family choosing a profile on a TV. An account has at
    # most ten profiles and its row is locked, so the names are folded here (name_keys.fold,
    # the customers list's folding) rather than in SQL, where SQLite's lower() knows only ASCII.
    names = await session.scalars(
        select(Profile.name).where(Profile.customer_id == customer_id, Profile.id != other_than)
        if other_than is not None
        else select(Profile.name).where(Profile.customer_id == customer_id)
    )
    if fold(name) in {fold(n) for n in names}:
        raise Problem(
            409,
            "Profile name taken",
            f"this account already has a profile named {name!r}",
            errors=[field_error("name", "already used on this account")],
        )


async def list_profiles(session: AsyncSession, customer_id: str) -> ProfileList:
    await _require_customer(session, customer_id, lock=False)
    rows = await session.scalars(
        select(Profile)
        .where(Profile.customer_id == customer_id)
        .order_by(Profile.created_at, Profile.id)
    )
    return ProfileList(items=[to_public(p) for p in rows])


async def create_profile(
    session: AsyncSession,
    outbox: Outbox,
    customer_id: str,
    payload: ProfileCreate,
    *,
    profile_id: str | None = None,
) -> ProfilePublic:
    """A new profile and profile.created. An app chooses the id (`profile_id`); the
    operator's profiles get a new UUID."""
    await _require_customer(session, customer_id, lock=True)
    count = await session.scalar(
        select(func.count()).select_from(Profile).where(Profile.customer_id == customer_id)
    )
    if (count or 0) >= MAX_PROFILES:
        raise Problem(
            409,
            "Too many profiles",
            f"an account has at most {MAX_PROFILES} profiles",
            errors=[field_error("name", f"limit of {MAX_PROFILES} reached")],
        )
    await _name_taken(session, customer_id, payload.name)
    pin_hash = await credentials.hash_one(payload.pin) if payload.pin else None
    now = utcnow()
    profile = Profile(
        id=profile_id or str(uuid.uuid4()),
        customer_id=customer_id,
        name=payload.name,
        kids=payload.kids,
        pin_hash=pin_hash,
        avatar=payload.avatar,
        is_default=False,
        created_at=now,
        updated_at=now,
    )
    session.add(profile)
    await session.flush()
    await announce_created(session, outbox, profile)
    return to_public(profile)


async def update_profile(
    session: AsyncSession, customer_id: str, profile_id: str, payload: ProfileUpdate
) -> ProfilePublic:
    """Rename, re-avatar, set or clear the PIN, toggle kids. Setting the same values again is
    harmless, so a retry needs no key. No event: nothing downstream keeps these fields."""
    await _require_customer(session, customer_id, lock=True)
    profile = await _profile(session, customer_id, profile_id)
    sent = payload.model_fields_set
    if payload.name is not None:
        await _name_taken(session, customer_id, payload.name, other_than=profile.id)
        profile.name = payload.name
    if payload.kids is not None:
        profile.kids = payload.kids
    if payload.avatar is not None:
        profile.avatar = payload.avatar
    if "pin" in sent:
        profile.pin_hash = await credentials.hash_one(payload.pin) if payload.pin else None
    profile.updated_at = utcnow()
    await session.flush()
    return to_public(profile)


async def delete_profile(
    session: AsyncSession,
    outbox: Outbox,
    customer_id: str,
    profile_id: str,
    *,
    tell_apps: bool = True,
) -> None:
    """Delete the profile and emit profile.deleted (activity drops its favorites, watchlist and
    recordings). The last profile stays: the apps need one to show anything.

    `tell_apps`: the operator's deletion is also sent to the apps as profile.delete.v1 on
    apps.commands; an app's own deletion is not echoed back to it."""
    await _require_customer(session, customer_id, lock=True)
    profile = await _profile(session, customer_id, profile_id)
    count = await session.scalar(
        select(func.count()).select_from(Profile).where(Profile.customer_id == customer_id)
    )
    if (count or 0) <= 1:
        raise Problem(
            409, "Last profile", "an account keeps at least one profile; this is its last"
        )
    await session.delete(profile)
    await session.flush()
    await outbox.add(
        session,
        ProfileDeletedV1(customer_id=customer_id, profile_id=profile_id, deleted_at=utcnow()),
        topic=topics.CUSTOMERS_EVENTS,
        key=customer_id,
        subject=customer_id,
    )
    if tell_apps:
        await outbox.add(
            session,
            ProfileDeleteV1(customer_id=customer_id, profile_id=profile_id),
            topic=topics.APPS_COMMANDS,
            key=customer_id,
            subject=customer_id,
        )
