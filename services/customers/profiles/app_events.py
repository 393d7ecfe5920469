"""The apps' profile changes (apps.events): applied with the operator's rules; one that breaks
them is dead-lettered with the rule it broke, and the app's profile does not exist here."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.apps import AppProfileCreatedV1, AppProfileDeletedV1, AppProfileUpdatedV1
from services.customers.profiles import service as profiles
from services.customers.profiles.models import Profile
from services.runtime.consumer import PoisonMessage
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem


def _refused(event_type: str, problem: Problem) -> PoisonMessage:
    fields = "; ".join(f"{e['field']}: {e['message']}" for e in problem.extra.get("errors", []))
    detail = problem.detail or problem.title
    detail = f"{detail} ({fields})" if fields else detail
    return PoisonMessage(f"{event_type} refused: {problem.title}: {detail}")


async def created(session: AsyncSession, outbox: Outbox, event: AppProfileCreatedV1) -> None:
    """The app's new profile under the app's id; the same id sent again (an app that did not
    hear back resends with a new event id) changes nothing."""
    existing = await session.get(Profile, event.profile_id)
    if existing is not None:
        if existing.customer_id == event.customer_id:
            return
        raise PoisonMessage(
            f"{event.event_type} refused: profile id {event.profile_id} belongs to another customer"
        )
    payload = profiles.ProfileCreate(
        name=event.name, kids=event.kids, pin=event.pin, avatar=event.avatar
    )
    try:
        await profiles.create_profile(
            session, outbox, event.customer_id, payload, profile_id=event.profile_id
        )
    except Problem as problem:
        raise _refused(event.event_type, problem) from None


async def updated(session: AsyncSession, event: AppProfileUpdatedV1) -> None:
    changes = event.model_dump(include={"name", "kids", "pin", "avatar"}, exclude_none=True)
    if event.remove_pin and event.pin is None:
        changes["pin"] = None
    payload = profiles.ProfileUpdate.model_validate(changes)
    try:
        await profiles.update_profile(session, event.customer_id, event.profile_id, payload)
    except Problem as problem:
        raise _refused(event.event_type, problem) from None


async def deleted(session: AsyncSession, outbox: Outbox, event: AppProfileDeletedV1) -> None:
    try:
        await profiles.delete_profile(
            session, outbox, event.customer_id, event.profile_id, tell_apps=False
        )
    except Problem as problem:
        raise _refused(event.event_type, problem) from None
