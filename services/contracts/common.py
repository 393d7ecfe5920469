"""Value types shared by several contracts."""

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints

from services.contracts.currencies import ISO_4217_CODES


def _iso_4217(code: str) -> str:
    if code not in ISO_4217_CODES:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


# Every currency that enters (orders, refunds, prices, webshops) is checked against the
# standard; the pattern stays so that the JSON schema tells a client the shape.
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_iso_4217)]


def _money_scale(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("money must be a finite number")
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise ValueError("money has at most 4 decimal places")
    return value


_AS_DECIMAL_STRING = PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json")

# Money travels as a decimal string ("12.50"), never a float, and is never negative: what an
# amount means (paid, charged, refunded) is said by the kind beside it, not by its sign. The
# bound lives here, once; a field must not add its own `Field(ge=...)`, because pydantic keeps
# only the last `ge` and a looser shared one used to override the field's.
Money = Annotated[
    Decimal,
    Field(ge=Decimal(0), le=Decimal("1e12")),
    AfterValidator(_money_scale),
    _AS_DECIMAL_STRING,
]

# A figure computed from the ledger (a balance, an invoice line, a day's revenue): signed,
# because refunds and credits subtract. Only answers carry it; nothing from outside does.
SignedMoney = Annotated[
    Decimal,
    Field(ge=Decimal("-1e12"), le=Decimal("1e12")),
    AfterValidator(_money_scale),
    _AS_DECIMAL_STRING,
]
