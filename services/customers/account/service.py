"""The customer's account: disable/enable (which sets the status), a login change under the
custom-login rules, a password reset that hands out a generated password once, and the last
login time.

Last login: there is no login event; a TV app's `device.connected.v1` on apps.events is the
moment a device signs in with the account, so it is the last login (the latest one seen wins,
so late or replayed events never move it back).
"""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts import topics
from services.contracts.apps import DeviceConnectedV1
from services.contracts.customers import AccountUpdatedV1
from services.customers import credentials
from services.customers.editing import load
from services.customers.models import Account
from services.customers.schemas import AccountPublic, AccountUpdate, PasswordReset
from services.customers.service import login_owner
from services.customers.status import refresh_status
from services.runtime.db import utcnow
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem, field_error


def to_account_public(account: Account) -> AccountPublic:
    return AccountPublic(
        customer_id=account.customer_id,
        login=account.login,
        login_generated=account.login_generated,
        disabled=account.disabled,
        created_at=account.created_at,
        updated_at=account.updated_at,
        last_login_at=account.last_login_at,
        password_reset_at=account.password_reset_at,
    )


async def get_account(session: AsyncSession, customer_id: str) -> AccountPublic:
    _, account = await load(session, customer_id)
    return to_account_public(account)


async def update_account(
    session: AsyncSession,
    outbox: Outbox,
    customer_id: str,
    patch: AccountUpdate,
) -> AccountPublic:
    customer, account = await load(session, customer_id)
    changed = False
    if patch.login is not None and patch.login != account.login:
        owner = await login_owner(session, patch.login)
        if owner is not None and owner != customer_id:
            raise Problem(
                409,
                "Login taken",
                f"the login {patch.login!r} is already in use (logins ignore case)",
                errors=[field_error("login", "already in use")],
            )
        account.login = patch.login
        account.login_generated = False
        customer.search_login = patch.login.lower()
        changed = True
    if patch.disabled is not None and patch.disabled != account.disabled:
        account.disabled = patch.disabled
        refresh_status(customer, disabled=account.disabled)
        changed = True
    if changed:
        now = utcnow()
        account.updated_at = now
        customer.updated_at = now
        try:
            await session.flush()
        except IntegrityError:
            # Another request took the login between our check and our write.
            raise Problem(
                409,
                "Login taken",
                f"the login {patch.login!r} is already in use (logins ignore case)",
                errors=[field_error("login", "already in use")],
            ) from None
        await outbox.add(
            session,
            AccountUpdatedV1(
                customer_id=customer_id,
                login=account.login,
                disabled=account.disabled,
                updated_at=now,
            ),
            topic=topics.CUSTOMERS_EVENTS,
            key=customer_id,
            subject=customer_id,
        )
    return to_account_public(account)


async def reset_password(session: AsyncSession, customer_id: str) -> PasswordReset:
    """A new generated password, returned this once; only its hash is kept."""
    _, account = await load(session, customer_id)
    password = credentials.generate_password()
    account.password_hash = await credentials.hash_one(password)
    now = utcnow()
    account.password_reset_at = now
    account.updated_at = now
    return PasswordReset(customer_id=customer_id, password=password, password_reset_at=now)


async def handle_device_connected(session: AsyncSession, event: DeviceConnectedV1) -> None:
    account = await session.get(Account, event.customer_id)
    if account is None:
        return  # unknown or erased customer: nothing to record
    if account.last_login_at is None or event.connected_at > account.last_login_at:
        account.last_login_at = event.connected_at
