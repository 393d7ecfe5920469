"""Favorites and watchlist of each profile, as the apps report them."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.activity.models import SavedItem
from services.activity.schemas import SavedItemPage, SavedItemPublic
from services.contracts import topics
from services.contracts.apps import (
    FavoriteAddedV1,
    FavoriteRemovedV1,
    FavoriteRemoveV1,
    WatchlistAddedV1,
    WatchlistRemovedV1,
    WatchlistRemoveV1,
)
from services.runtime.db import dialect_insert
from services.runtime.outbox import Outbox
from services.runtime.paging import Keyset
from services.runtime.problems import Problem

ListName = Literal["favorites", "watchlist"]
SAVED_ITEMS = {
    name: Keyset(f"activity.{name}", tuple[datetime, str]) for name in ("favorites", "watchlist")
}

# Ids are derived from the natural key, so an item added twice (or again after a removal) has
# one id, which the operator's DELETE names.
_ID_NAMESPACE = uuid.UUID("4f3d1b8e-6a8e-4f0c-9a55-1c7d0e2b9a61")


def item_key(
    customer_id: str, list_name: ListName, profile_id: str, item_type: str, item_id: str
) -> str:
    natural = "\x1f".join((customer_id, list_name, profile_id, item_type, item_id))
    return str(uuid.uuid5(_ID_NAMESPACE, natural))


Change = tuple[
    ListName, FavoriteAddedV1 | WatchlistAddedV1 | FavoriteRemovedV1 | WatchlistRemovedV1
]


async def apply_changes(session: AsyncSession, changes: Sequence[Change]) -> None:
    """A batch's adds and removes, in their order, as one DELETE and one upsert: per item, what
    adding and removing one after the other would leave (a removal drops what came before it;
    the first add after it sets added_at, the last title given wins)."""
    doomed: set[str] = set()
    kept: dict[str, dict[str, object]] = {}
    for list_name, event in changes:
        key = item_key(
            event.customer_id, list_name, event.profile_id, event.item_type, event.item_id
        )
        if isinstance(event, FavoriteRemovedV1 | WatchlistRemovedV1):
            doomed.add(key)
            kept.pop(key, None)
        elif key not in kept:
            kept[key] = {
                "id": key,
                "customer_id": event.customer_id,
                "list_name": list_name,
                "profile_id": event.profile_id,
                "item_type": event.item_type,
                "item_id": event.item_id,
                "title": event.title,
                "added_at": event.at,
            }
        elif event.title is not None:
            kept[key]["title"] = event.title
    table = cast(Table, SavedItem.__table__)
    if doomed:
        await session.execute(delete(table).where(table.c.id.in_(doomed)))
    if kept:
        insert = dialect_insert(session)(table)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[table.c.id],
                # Re-adding an item keeps when it was first added; a title given replaces it.
                set_={"title": func.coalesce(insert.excluded.title, table.c.title)},
            ),
            list(kept.values()),
        )


async def remove_by_id(
    session: AsyncSession,
    outbox: Outbox,
    customer_id: str,
    list_name: ListName,
    saved_item_id: str,
) -> None:
    """The operator removes one item, and the apps are told to remove it too (favorite.remove
    or watchlist.remove on apps.commands); 404 if the customer's list has no such item."""
    item = await session.scalar(
        select(SavedItem).where(
            SavedItem.id == saved_item_id,
            SavedItem.customer_id == customer_id,
            SavedItem.list_name == list_name,
        )
    )
    if item is None:
        raise Problem(404, "Item not found", f"no item {saved_item_id} in the {list_name}")
    command = FavoriteRemoveV1 if list_name == "favorites" else WatchlistRemoveV1
    await outbox.add(
        session,
        command(
            customer_id=customer_id,
            profile_id=item.profile_id,
            item_type=item.item_type,
            item_id=item.item_id,
        ),
        topic=topics.APPS_COMMANDS,
        key=customer_id,
        subject=customer_id,
    )
    await session.delete(item)
    await session.flush()


async def delete_of_profile(session: AsyncSession, customer_id: str, profile_id: str) -> None:
    await session.execute(
        delete(SavedItem).where(
            SavedItem.customer_id == customer_id, SavedItem.profile_id == profile_id
        )
    )


async def delete_all(session: AsyncSession, customer_id: str) -> None:
    await session.execute(delete(SavedItem).where(SavedItem.customer_id == customer_id))


async def list_items(
    session: AsyncSession,
    customer_id: str,
    list_name: ListName,
    *,
    profile_id: str | None,
    limit: int,
    cursor: str | None,
) -> SavedItemPage:
    """Newest first, keyset-paged on (added_at, id)."""
    query = select(SavedItem).where(
        SavedItem.customer_id == customer_id, SavedItem.list_name == list_name
    )
    if profile_id is not None:
        query = query.where(SavedItem.profile_id == profile_id)
    keyset = SAVED_ITEMS[list_name]
    if cursor:
        query = query.where(
            keyset.where(cursor, (SavedItem.added_at, SavedItem.id), descending=True)
        )
    rows = (
        await session.scalars(
            query.order_by(SavedItem.added_at.desc(), SavedItem.id.desc()).limit(limit + 1)
        )
    ).all()
    rows, next_cursor = keyset.cut(rows, limit, lambda row: (row.added_at, row.id))
    items = [
        SavedItemPublic(
            id=row.id,
            customer_id=row.customer_id,
            profile_id=row.profile_id,
            item_type=row.item_type,
            item_id=row.item_id,
            title=row.title,
            added_at=row.added_at,
        )
        for row in rows
    ]
    return SavedItemPage(items=items, next_cursor=next_cursor)
