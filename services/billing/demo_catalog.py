"""The demo catalog `make run` seeds into an empty billing database."""

from decimal import Decimal

from sqlalchemy import false, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing import service
from services.billing.models import Product
from services.billing.schemas import PlanIn, ProductIn, WebshopIn


def _plan(id_: str, name: str, length: int, unit: str, eur: str, usd: str) -> PlanIn:
    return PlanIn.model_validate(
        {
            "id": id_,
            "name": name,
            "length": length,
            "unit": unit,
            "prices": {"EUR": Decimal(eur), "USD": Decimal(usd)},
        }
    )


DEMO_PRODUCTS = [
    ProductIn(
        id="basic",
        name="Basic TV",
        kind="base",
        max_devices=2,
        packages=["news", "general"],
        plans=[
            _plan("basic-1m", "1 month", 1, "months", "9.99", "10.99"),
            _plan("basic-12m", "12 months", 12, "months", "99.00", "109.00"),
        ],
    ),
    ProductIn(
        id="premium",
        name="Premium TV",
        kind="base",
        max_devices=5,
        packages=["news", "general", "sports", "movies"],
        plans=[
            _plan("premium-1m", "1 month", 1, "months", "19.99", "21.99"),
            _plan("premium-12m", "12 months", 12, "months", "199.00", "219.00"),
        ],
    ),
    ProductIn(
        id="trial",
        name="7-day trial",
        kind="base",
        subscription_type="trial",
        max_devices=1,
        packages=["general"],
        plans=[_plan("trial-7d", "7 days", 7, "days", "0", "0")],
    ),
    ProductIn(
        id="hbo",
        name="HBO pack",
        kind="extra",
        max_devices=0,
        packages=["hbo"],
        plans=[_plan("hbo-1m", "1 month", 1, "months", "4.99", "5.49")],
    ),
    ProductIn(
        id="sports-plus",
        name="Sports+",
        kind="extra",
        max_devices=0,
        packages=["sports-plus"],
        plans=[_plan("sports-plus-1m", "1 month", 1, "months", "6.99", "7.49")],
    ),
]
DEMO_WEBSHOPS = [
    WebshopIn(
        id="shop-eu",
        name="TV Shop Europe",
        currencies=["EUR"],
        product_ids=["basic", "premium", "trial"],
    ),
    WebshopIn(
        id="shop-us", name="TV Shop USA", currencies=["USD"], product_ids=["basic", "premium"]
    ),
]


# Any constant both replicas agree on: the key of the PostgreSQL advisory lock of the seeding.
SEED_LOCK_KEY = 0x6269_6C6C_0001


async def _serialize_seeders(session: AsyncSession) -> None:
    """Make a second seeder wait for the first one's transaction to end, so it then sees the
    catalog and leaves it (two replicas starting at once would otherwise both find no product
    and the loser would crash on a duplicate id)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(SEED_LOCK_KEY)))
    else:
        # SQLite has one writer: a write that changes nothing takes the write lock at once
        # (the other seeder waits busy_timeout for it), before the emptiness is read.
        await session.execute(update(Product).where(false()).values(name=Product.name))


async def seed_if_empty(session: AsyncSession) -> bool:
    """Seed the demo catalog when no product exists; returns whether it seeded. Safe to run
    in several replicas at once: one seeds, the others find it seeded."""
    await _serialize_seeders(session)
    if await session.scalar(select(func.count()).select_from(Product)):
        return False
    for product in DEMO_PRODUCTS:
        await service.create_product(session, product)
    for webshop in DEMO_WEBSHOPS:
        await service.create_webshop(session, webshop)
    return True
