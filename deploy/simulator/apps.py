"""A seeded-random stream of what TV apps report on `apps.events`: devices connecting, beating
and leaving, profiles created, renamed and deleted, favorites and watchlist edits, recordings
scheduled and finished, messages read. The apps also react to the commands of `apps.commands`
(`apply_command`): what an operator removed leaves the simulated state, a logged-out device goes
offline, a shown message is read later.

The same seed and customers give the same stream (event ids included); only the timestamps
follow the clock, so that the services see current activity.
"""

import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.contracts.apps import (
    AppProfileCreatedV1,
    AppProfileDeletedV1,
    AppProfileUpdatedV1,
    DeviceConnectedV1,
    DeviceDisconnectedV1,
    DeviceHeartbeatV1,
    DeviceKind,
    DeviceLogoutV1,
    FavoriteAddedV1,
    FavoriteRemovedV1,
    FavoriteRemoveV1,
    ItemType,
    MessageReadV1,
    MessageShowV1,
    ProfileDeleteV1,
    RecordingCompletedV1,
    RecordingDeleteV1,
    RecordingFailedV1,
    RecordingScheduledV1,
    WatchlistAddedV1,
    WatchlistRemovedV1,
    WatchlistRemoveV1,
)
from services.contracts.envelope import CloudEvent, EventData
from services.contracts.registry import TOPIC_EVENT_MODELS

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
    # Profiles this simulator made up and must create (profile.created.v1) before using them.
    unannounced: list[str] = field(default_factory=list)
    # Profiles the simulator created on its own during the run: the ones it renames and deletes.
    own_profiles: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    device_ids: list[str] = field(default_factory=list)
    device_kinds: dict[str, DeviceKind] = field(default_factory=dict)
    online: set[str] = field(default_factory=set)
    favorites: set[tuple[str, ItemType, str]] = field(default_factory=set)
    watchlist: set[tuple[str, ItemType, str]] = field(default_factory=set)
    # recording id -> its start, for those not finished yet
    recordings: dict[str, datetime] = field(default_factory=dict)
    recording_profiles: dict[str, str] = field(default_factory=dict)

    def drop_profile(self, profile_id: str) -> None:
        """The profile is gone with everything saved to it."""
        for ids in (self.profile_ids, self.own_profiles, self.unannounced):
            if profile_id in ids:
                ids.remove(profile_id)
        self.favorites = {f for f in self.favorites if f[0] != profile_id}
        self.watchlist = {w for w in self.watchlist if w[0] != profile_id}
        for recording_id, owner in list(self.recording_profiles.items()):
            if owner == profile_id:
                del self.recording_profiles[recording_id]
                self.recordings.pop(recording_id, None)


_PROFILE_IDS = uuid.UUID("6f1d8f0e-5b7a-4f7e-9d0a-2b1c3d4e5f60")


def default_profiles(customer_id: str) -> list[str]:
    """Two profiles made up for a customer given by id (UUIDs, as an app makes them): the
    simulator creates them first, as an app would, so the services know them."""
    return [str(uuid.uuid5(_PROFILE_IDS, f"{customer_id}/{name}")) for name in ("main", "kids")]


def made_up(customer_id: str) -> "SimulatedCustomer":
    """A customer given by id: its made-up profiles are created before anything else."""
    profiles = default_profiles(customer_id)
    return SimulatedCustomer(customer_id, list(profiles), unannounced=list(profiles))


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
        self.customers: list[SimulatedCustomer] = []
        self.rng = random.Random(seed)
        self.clock = clock
        self.devices_per_customer = devices_per_customer
        for customer in customers:
            self.add(customer)

    def add(self, customer: SimulatedCustomer) -> None:
        """One more customer whose apps join the stream (the fault campaign adds each customer
        its operators created), with its devices."""
        count = self.rng.randint(*self.devices_per_customer)
        for number in range(count):
            kind: DeviceKind = self.rng.choice(list(_MODELS))
            device_id = f"{kind}-{customer.customer_id[:8]}-{number}"
            customer.device_ids.append(device_id)
            customer.device_kinds[device_id] = kind
        self.customers.append(customer)

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

    def apply_command(self, command: CloudEvent) -> bool:
        """What an app does on a command of `apps.commands`; False if it is not for one of the
        simulated customers (or of a type the apps do not know)."""
        customer = next((c for c in self.customers if c.customer_id == command.subject), None)
        model = TOPIC_EVENT_MODELS["apps.commands"].get(command.type)
        if customer is None or model is None:
            return False
        data = model.model_validate(command.data)
        if isinstance(data, FavoriteRemoveV1):
            customer.favorites.discard((data.profile_id, data.item_type, data.item_id))
        elif isinstance(data, WatchlistRemoveV1):
            customer.watchlist.discard((data.profile_id, data.item_type, data.item_id))
        elif isinstance(data, RecordingDeleteV1):
            customer.recordings.pop(data.recording_id, None)
            customer.recording_profiles.pop(data.recording_id, None)
        elif isinstance(data, ProfileDeleteV1):
            customer.drop_profile(data.profile_id)
        elif isinstance(data, DeviceLogoutV1):
            customer.online.discard(data.device_id)
        elif isinstance(data, MessageShowV1) and data.message_id not in customer.message_ids:
            customer.message_ids.append(data.message_id)
        return True

    def _next(self, customer: SimulatedCustomer) -> EventData:
        if customer.unannounced:
            return self._profile_announced(customer)
        if not customer.profile_ids:
            return self._profile_created(customer)
        if not customer.online:
            return self._connect(customer)
        choices: list[tuple[int, Callable[[SimulatedCustomer], EventData]]] = [
            (40, self._heartbeat),
            (6, self._disconnect),
            (10, self._favorite_added),
            (8, self._watchlist_added),
            (7, self._recording_scheduled),
        ]
        if len(customer.own_profiles) < 2:
            choices.append((1, self._profile_created))
        if customer.own_profiles:
            choices.append((1, self._profile_renamed))
            choices.append((1, self._profile_deleted))
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

    def _profile_announced(self, customer: SimulatedCustomer) -> EventData:
        profile_id = customer.unannounced.pop(0)
        return AppProfileCreatedV1(
            customer_id=customer.customer_id,
            profile_id=profile_id,
            name=f"Sim {profile_id[:8]}",
            at=self.clock(),
        )

    def _profile_created(self, customer: SimulatedCustomer) -> EventData:
        profile_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        customer.profile_ids.append(profile_id)
        customer.own_profiles.append(profile_id)
        kids = self.rng.random() < 0.3
        return AppProfileCreatedV1(
            customer_id=customer.customer_id,
            profile_id=profile_id,
            name=f"{'Kids' if kids else 'Guest'} {profile_id[:6]}",
            kids=kids,
            pin=f"{self.rng.randint(0, 9999):04d}" if self.rng.random() < 0.3 else None,
            avatar=self.rng.choice(["default", "bear", "fox", "owl", "robot"]),
            at=self.clock(),
        )

    def _profile_renamed(self, customer: SimulatedCustomer) -> EventData:
        profile_id = self.rng.choice(customer.own_profiles)
        return AppProfileUpdatedV1(
            customer_id=customer.customer_id,
            profile_id=profile_id,
            name=f"Renamed {profile_id[:6]} {self.rng.randint(1, 999)}",
            at=self.clock(),
        )

    def _profile_deleted(self, customer: SimulatedCustomer) -> EventData:
        profile_id = self.rng.choice(customer.own_profiles)
        customer.drop_profile(profile_id)
        return AppProfileDeletedV1(
            customer_id=customer.customer_id, profile_id=profile_id, at=self.clock()
        )

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
        profile_id = self.rng.choice(customer.profile_ids)
        customer.recordings[recording_id] = starts_at
        customer.recording_profiles[recording_id] = profile_id
        return RecordingScheduledV1(
            customer_id=customer.customer_id,
            profile_id=profile_id,
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
        customer.recording_profiles.pop(recording_id, None)
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
