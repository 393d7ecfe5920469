"""Value types shared by several contracts."""

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


def _money_scale(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("money must be a finite number")
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise ValueError("money has at most 4 decimal places")
    return value


# Money travels as a decimal string ("12.50"), never a float.
Money = Annotated[
    Decimal,
    Field(ge=Decimal("-1e12"), le=Decimal("1e12")),
    AfterValidator(_money_scale),
    PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json"),
]
