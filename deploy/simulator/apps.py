"""A seeded-random stream of what TV apps report on `apps.events`: devices connecting, beating
and leaving, favorites and watchlist edits, recordings scheduled and finished, messages read.

The same seed and customers give the same stream (event ids included); only the timestamps
follow the clock, so that the services see current activity.
"""

import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.contracts.apps import (
    DeviceConnectedV1,
    DeviceDisconnectedV1,
    DeviceHeartbeatV1,
    DeviceKind,
    FavoriteAddedV1,
    FavoriteRemovedV1,
    ItemType,
    MessageReadV1,
    RecordingCompletedV1,
    RecordingFailedV1,
    RecordingScheduledV1,
    WatchlistAddedV1,
    WatchlistRemovedV1,
)
from services.contracts.envelope import CloudEvent, EventData

SOURCE = "/apps/simulator"

_MODELS: dict[DeviceKind, tuple[str, str]] = {
    "stb": ("Amino H200", "Linux 5.4"),
    "smart_tv": ("Samsung QE55", "Tizen 7"),
    "mobile": ("Pixel 8", "Android 14"),
    "web": ("Firefox 131", "Windows 11"),
}
_CHANNELS = [f"ch-{n}" for n in range(1, 41)]
_MOVIES = [f"movie-{n}" for n in range(1, 201)]
_SERIES = [f"series-{n}" for n in range(1, 61)]
_TITLES = ["Evening News", "Match Day", "Nature Hour", "Late Show", "Cartoon Club", "Film Night"]


@dataclass
class SimulatedCustomer:
    """What the simulator knows of one customer: its ids, and the state its apps are in."""

    customer_id: str
    profile_ids: list[str]
    message_ids: list[str] = field(default_factory=list)
    device_ids: list[str] = field(default_factory=list)
    device_kinds: dict[str, DeviceKind] = field(default_factory=dict)
    online: set[str] = field(default_factory=set)
    favorites: set[tuple[str, ItemType, str]] = field(default_factory=set)
    watchlist: set[tuple[str, ItemType, str]] = field(default_factory=set)
    # recording id -> its start, for those not finished yet
    recordings: dict[str, datetime] = field(default_factory=dict)


def default_profiles(customer_id: str) -> list[str]:
    short = customer_id.replace("-", "")[:8]
    return [f"p-{short}-main", f"p-{short}-kids"]


class AppSimulator:
    """Yields `(customer_id, event)` pairs; each call of `events(n)` plays `n` more events."""

    def __init__(
        self,
        customers: Sequence[SimulatedCustomer],
        *,
        seed: int = 1,
        devices_per_customer: tuple[int, int] = (1, 3),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not customers:
            raise ValueError("the simulator needs at least one customer")
        self.customers = list(customers)
        self.rng = random.Random(seed)
        self.clock = clock
        for customer in self.customers:
            count = self.rng.randint(*devices_per_customer)
            for number in range(count):
                kind: DeviceKind = self.rng.choice(list(_MODELS))
                device_id = f"{kind}-{customer.customer_id[:8]}-{number}"
                customer.device_ids.append(device_id)
                customer.device_kinds[device_id] = kind

    def event_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def events(self, count: int) -> Iterator[tuple[str, EventData]]:
        for _ in range(count):
            customer = self.rng.choice(self.customers)
            yield customer.customer_id, self._next(customer)

    def envelopes(self, count: int) -> Iterator[tuple[str, CloudEvent]]:
        """The events as they travel: CloudEvents keyed by customer id."""
        for customer_id, data in self.events(count):
            yield (
                customer_id,
                CloudEvent.wrap(data, source=SOURCE, subject=customer_id, event_id=self.event_id()),
            )

    def _next(self, customer: SimulatedCustomer) -> EventData:
        if not customer.online:
            return self._connect(customer)
        choices: list[tuple[int, Callable[[SimulatedCustomer], EventData]]] = [
            (40, self._heartbeat),
            (6, self._disconnect),
            (10, self._favorite_added),
            (8, self._watchlist_added),
            (7, self._recording_scheduled),
        ]
        if len(customer.online) < len(customer.device_ids):
            choices.append((6, self._connect))
        if customer.favorites:
            choices.append((3, self._favorite_removed))
        if customer.watchlist:
            choices.append((3, self._watchlist_removed))
        if any(start <= self.clock() for start in customer.recordings.values()):
            choices.append((8, self._recording_finished))
        if customer.message_ids:
            choices.append((3, self._message_read))
        weights = [w for w, _ in choices]
        action = self.rng.choices([a for _, a in choices], weights=weights)[0]
        return action(customer)

    def _connect(self, customer: SimulatedCustomer) -> EventData:
        offline = [d for d in customer.device_ids if d not in customer.online]
        device_id = self.rng.choice(offline)
        customer.online.add(device_id)
        kind = customer.device_kinds[device_id]
        model, os_name = _MODELS[kind]
        return DeviceConnectedV1(
            customer_id=customer.customer_id,
            device_id=device_id,
            kind=kind,
            model=model,
            os=os_name,
            app_version=f"5.{self.rng.randint(0, 4)}.{self.rng.randint(0, 9)}",
            ip=f"198.51.100.{self.rng.randint(1, 254)}",
            connected_at=self.clock(),
        )

    def _heartbeat(self, customer: SimulatedCustomer) -> EventData:
        device_id = self.rng.choice(sorted(customer.online))
        return DeviceHeartbeatV1(
            customer_id=customer.customer_id, device_id=device_id, at=self.clock()
        )

    def _disconnect(self, customer: SimulatedCustomer) -> EventData:
        device_id = self.rng.choice(sorted(customer.online))
        customer.online.discard(device_id)
        return DeviceDisconnectedV1(
            customer_id=customer.customer_id, device_id=device_id, at=self.clock()
        )

    def _item(self) -> tuple[ItemType, str, str]:
        types: list[ItemType] = ["channel", "movie", "series"]
        item_type = self.rng.choices(types, [3, 4, 2])[0]
        pool = {"channel": _CHANNELS, "movie": _MOVIES, "series": _SERIES}[item_type]
        item_id = self.rng.choice(pool)
        return item_type, item_id, f"{item_type.title()} {item_id.split('-')[-1]}"

    def _favorite_added(self, customer: SimulatedCustomer) -> EventData:
        profile_id = self.rng.choice(customer.profile_ids)
        item_type, item_id, title = self._item()
        customer.favorites.add((profile_id, item_type, item_id))
        return FavoriteAddedV1(
            customer_id=customer.customer_id,
            profile_id=profile_id,
            item_type=item_type,
            item_id=item_id,
            title=title,
            at=self.clock(),
        )

    def _favorite_removed(self, customer: SimulatedCustomer) -> EventData:
        profile_id, item_type, item_id = self.rng.choice(sorted(customer.favorites))
        customer.favorites.discard((profile_id, item_type, item_id))
        return FavoriteRemovedV1(
            customer_id=customer.customer_id,
            profile_id=profile_id,
            item_type=item_type,
            item_id=item_id,
            at=self.clock(),
        )

    def _watchlist_added(self, customer: SimulatedCustomer) -> EventData:
        profile_id = self.rng.choice(customer.profile_ids)
        item_type, item_id, title = self._item()
        customer.watchlist.add((profile_id, item_type, item_id))
        return WatchlistAddedV1(
            customer_id=customer.customer_id,
            profile_id=profile_id,
            item_type=item_type,
            item_id=item_id,
            title=title,
            at=self.clock(),
        )

    def _watchlist_removed(self, customer: SimulatedCustomer) -> EventData:
        profile_id, item_type, item_id = self.rng.choice(sorted(customer.watchlist))
        customer.watchlist.discard((profile_id, item_type, item_id))
        return WatchlistRemovedV1(
            customer_id=customer.customer_id,
            profile_id=profile_id,
            item_type=item_type,
            item_id=item_id,
            at=self.clock(),
        )

    def _recording_scheduled(self, customer: SimulatedCustomer) -> EventData:
        now = self.clock()
        # Half are "record now" (already running), half a programme later today.
        offset = self.rng.choice([-1, 1]) * self.rng.randint(1, 240)
        starts_at = (now + timedelta(minutes=offset)).replace(second=0, microsecond=0)
        recording_id = f"rec-{self.event_id()[:13]}"
        customer.recordings[recording_id] = starts_at
        return RecordingScheduledV1(
            customer_id=customer.customer_id,
            profile_id=self.rng.choice(customer.profile_ids),
            recording_id=recording_id,
            channel_id=self.rng.choice(_CHANNELS),
            programme_id=f"prog-{self.rng.randint(1, 99999)}",
            title=self.rng.choice(_TITLES),
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=self.rng.choice([30, 45, 60, 90, 120])),
            at=now,
        )

    def _recording_finished(self, customer: SimulatedCustomer) -> EventData:
        now = self.clock()
        started = sorted(r for r, start in customer.recordings.items() if start <= now)
        recording_id = self.rng.choice(started)
        del customer.recordings[recording_id]
        if self.rng.random() < 0.15:
            reason = self.rng.choice(["no signal", "disk full", "programme cancelled"])
            return RecordingFailedV1(
                customer_id=customer.customer_id, recording_id=recording_id, reason=reason, at=now
            )
        return RecordingCompletedV1(
            customer_id=customer.customer_id,
            recording_id=recording_id,
            size_bytes=self.rng.randint(200, 6000) * 1024 * 1024,
            at=now,
        )

    def _message_read(self, customer: SimulatedCustomer) -> EventData:
        message_id = customer.message_ids.pop(0)
        return MessageReadV1(
            customer_id=customer.customer_id,
            message_id=message_id,
            device_id=self.rng.choice(sorted(customer.online)),
            read_at=self.clock(),
        )
