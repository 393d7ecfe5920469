"""The first start: with no operator at all, create the admin so someone can sign in."""

import logging
import sys
from typing import TextIO

from sqlalchemy.exc import IntegrityError

from gateway.identity import accounts, security
from gateway.identity.permissions import Role
from gateway.models import AuditEntry
from gateway.settings import GatewaySettings
from services.runtime.db import Database, utcnow
from services.runtime.problems import Problem

log = logging.getLogger(__name__)


async def ensure_first_admin(
    db: Database, settings: GatewaySettings, out: TextIO | None = None
) -> bool:
    """Create the admin if no operator exists; True if it was created now.

    The password is ADMIN_PASSWORD, or generated and written once to `out` (stdout), never to
    the logs: logs are shipped and kept, stdout of a first start is read by the person at it.
    """
    async with db.sessions() as session:
        if await accounts.any_operator_exists(session):
            return False
    configured = settings.admin_password
    password = configured.get_secret_value() if configured else security.generate_password()
    try:
        async with db.transaction() as session:
            operator = await accounts.create_operator(
                session, username=settings.admin_username, password=password, role=Role.ADMIN
            )
            session.add(
                AuditEntry(
                    at=utcnow(),
                    actor="gateway",
                    actor_kind="system",
                    action="operator.bootstrap",
                    method="-",
                    path="-",
                    customer_id=None,
                    status_code=201,
                    before=None,
                    after=accounts.operator_public(operator).model_dump(mode="json"),
                )
            )
    except IntegrityError:
        # Another replica starting at the same moment created it first.
        return False
    except Problem as problem:
        if problem.status == 409:  # the same race, caught at the flush
            return False
        raise
    log.info("created the first admin operator %r", settings.admin_username)
    if configured is None:
        stream = out or sys.stdout
        print(
            f"First start: created admin operator {settings.admin_username!r} "
            f"with the generated password: {password}\n"
            "It is shown this once; sign in and keep it safe.",
            file=stream,
            flush=True,
        )
    return True
