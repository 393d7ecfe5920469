"""Money from outside is never negative and currencies are ISO 4217 codes, in every contract that
carries them: the bound is on the shared type, so no field can loosen it."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.contracts.billing import TransactionRecordedV1
from services.contracts.common import Currency, Money, SignedMoney
from services.contracts.currencies import ISO_4217_CODES
from services.contracts.customers import OrderPayment
from services.contracts.webshop import OrderPaidV1, OrderRefundedV1

WHEN = datetime(2025, 1, 1, tzinfo=UTC)
VALID: dict[type[BaseModel], dict[str, Any]] = {
    OrderPaidV1: {
        "order_id": "o-1",
        "webshop_id": "shop-eu",
        "buyer": {"email": "a@example.com", "first_name": "A", "last_name": "B"},
        "product_id": "basic",
        "plan_id": "basic-1m",
        "amount": "19.99",
        "currency": "EUR",
        "paid_at": WHEN,
        "payment": {"provider": "card", "reference": "r-1"},
    },
    OrderRefundedV1: {
        "order_id": "o-1",
        "webshop_id": "shop-eu",
        "amount": "500.00",
        "currency": "EUR",
        "refunded_at": WHEN,
    },
    OrderPayment: {
        "amount": "19.99",
        "currency": "EUR",
        "paid_at": WHEN,
        "provider": "card",
        "reference": "r-1",
    },
    TransactionRecordedV1: {
        "customer_id": "c-1",
        "transaction_id": "t-1",
        "kind": "refund",
        "amount": "500.00",
        "currency": "EUR",
        "order_id": "o-1",
        "recorded_at": WHEN,
    },
}


def _errors(model: type[BaseModel], **change: object) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as error:
        model.model_validate(VALID[model] | change)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in error.value.errors()]


@pytest.mark.parametrize("model", list(VALID), ids=lambda m: m.__name__)
def test_each_money_contract_takes_its_valid_example(model: type[BaseModel]) -> None:
    model.model_validate(VALID[model])


@pytest.mark.parametrize("model", list(VALID), ids=lambda m: m.__name__)
@pytest.mark.parametrize("amount", ["-19.99", "-500.00", "-0.01"])
def test_a_negative_amount_is_refused_naming_the_field(model: type[BaseModel], amount: str) -> None:
    [(field, message)] = _errors(model, amount=amount)
    assert field == "amount"
    assert "greater than or equal to 0" in message


@pytest.mark.parametrize("model", list(VALID), ids=lambda m: m.__name__)
@pytest.mark.parametrize("currency", ["USB", "CHR", "eur", "EURO"])
def test_a_currency_that_is_no_iso_4217_code_is_refused(
    model: type[BaseModel], currency: str
) -> None:
    [(field, _)] = _errors(model, currency=currency)
    assert field == "currency"


def test_the_iso_message_names_the_code() -> None:
    with pytest.raises(ValidationError, match="'USB' is not an ISO 4217 currency code"):
        TypeAdapter(Currency).validate_python("USB")


def test_the_list_holds_the_codes_in_use_and_only_three_capital_letters() -> None:
    assert {"EUR", "USD", "GBP", "CHF", "JPY", "SEK", "PLN", "XCG", "ZWG"} <= ISO_4217_CODES
    assert not {"USB", "CHR", "ZWL", "HRK", "CUC", "SLL"} & ISO_4217_CODES
    assert all(len(c) == 3 and c.isascii() and c.isupper() for c in ISO_4217_CODES)


def test_zero_is_money_and_a_signed_ledger_figure_may_be_negative() -> None:
    assert TypeAdapter(Money).validate_python("0") == Decimal(0)
    assert TypeAdapter(SignedMoney).validate_python("-89.01") == Decimal("-89.01")
    with pytest.raises(ValidationError):
        TypeAdapter(SignedMoney).validate_python("-1e13")
