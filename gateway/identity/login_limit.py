"""The limit on failed sign-ins, per username and per client address.

Failures are rows in the gateway's database, so every replica counts the same ones. A sign-in
is refused (429 with Retry-After) while either its username or its address has
`max_failures` failures within the last `window`; the refusal itself is not counted, so a
lock-out ends `window` after the failures that caused it. A successful sign-in clears the
username's failures (not the address's: one good password must not reopen guessing others).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import LoginFailure

USERNAME = "username"
ADDRESS = "address"


@dataclass(frozen=True)
class LoginLimit:
    max_failures: int
    window: timedelta

    async def retry_after(
        self, session: AsyncSession, *, username: str, address: str, now: datetime
    ) -> int | None:
        """Seconds until a sign-in may be tried again, or None if it may be tried now."""
        since = now - self.window
        waits: list[int] = []
        for scope, value in ((USERNAME, username), (ADDRESS, address)):
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(LoginFailure.at)).where(
                        LoginFailure.scope == scope,
                        LoginFailure.value == value[:100],
                        LoginFailure.at > since,
                    )
                )
            ).one()
            if count >= self.max_failures and oldest is not None:
                # Failures are counted from newest to oldest: the lock lifts when enough of
                # them have aged out. The oldest one ageing out is a lower bound, and a
                # client retrying then is at worst refused again with a fresh Retry-After.
                waits.append(max(1, int((oldest + self.window - now).total_seconds()) + 1))
        return max(waits) if waits else None

    async def record_failure(
        self, session: AsyncSession, *, username: str, address: str, now: datetime
    ) -> None:
        session.add_all(
            [
                LoginFailure(scope=USERNAME, value=username[:100], at=now),
                LoginFailure(scope=ADDRESS, value=address[:100], at=now),
            ]
        )
        # Old rows say nothing any more; removing them here keeps the table small.
        await session.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.window))

    async def record_success(self, session: AsyncSession, *, username: str) -> None:
        await session.execute(
            delete(LoginFailure).where(
                LoginFailure.scope == USERNAME, LoginFailure.value == username[:100]
            )
        )
