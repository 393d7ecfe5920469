"""Log lines never carry a password or a token: redact() and the JSON formatter."""

import json
import logging
import sys

import httpx
import pytest

from services.runtime.logging_setup import JsonFormatter, configure_logging, redact

SECRET = "hunter2-Secret"


@pytest.mark.parametrize(
    "text",
    [
        f"login failed for jane password={SECRET}",
        f"login failed for jane password = {SECRET}, retrying",
        f'payload {{"login": "jane", "password": "{SECRET}"}}',
        f"payload {{'login': 'jane', 'password': '{SECRET}'}}",
        f"settings passwd:{SECRET}",
        f"client_secret={SECRET}&grant=client_credentials",
        f"refresh token: {SECRET}",
        f"headers api-key={SECRET}; api_key={SECRET}; apikey={SECRET}",
        f"Authorization: Bearer {SECRET}",
        f"sent header authorization=Bearer.{SECRET}",
        f"PASSWORD={SECRET}",
        f'webshop credentials {{"login": "jane", "new_password": "{SECRET}"}}',
    ],
)
def test_redact_masks_secret_values(text: str) -> None:
    redacted = redact(text)
    assert SECRET not in redacted
    assert "***" in redacted


def test_redact_masks_a_bearer_token_on_its_own() -> None:
    redacted = redact(f"GET /me with Bearer {SECRET}")
    assert redacted == "GET /me with Bearer ***"


def test_redact_keeps_the_rest_of_the_message() -> None:
    assert redact(f"login=jane password={SECRET} shop=eu") == "login=jane password=*** shop=eu"


def test_redact_leaves_messages_without_secrets_alone() -> None:
    text = "customer 42 renewed basic-1m until 2025-02-28; 3 devices"
    assert redact(text) == text


def test_redact_masks_the_password_of_a_database_url() -> None:
    redacted = redact(f"cannot connect to postgresql+asyncpg://tvcm:{SECRET}@db:5432/billing")
    assert SECRET not in redacted
    assert "db:5432/billing" in redacted


def _record(message: str, *args: object, exc_info: bool = False) -> logging.LogRecord:
    return logging.LogRecord(
        name="services.test",
        level=logging.WARNING,
        pathname=__file__,
        lineno=1,
        msg=message,
        args=args,
        exc_info=sys.exc_info() if exc_info else None,
    )


def test_json_formatter_writes_one_redacted_object_per_line() -> None:
    line = JsonFormatter("customers").format(_record("webshop sent %s", f"password={SECRET}"))

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["service"] == "customers"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "services.test"
    assert entry["message"] == "webshop sent password=***"
    assert entry["time"].endswith("+00:00")


def test_json_formatter_redacts_the_exception_text() -> None:
    try:
        raise RuntimeError(f"login refused, token={SECRET}")
    except RuntimeError:
        line = JsonFormatter("customers").format(_record("failed", exc_info=True))

    entry = json.loads(line)
    assert "RuntimeError" in entry["exception"]
    assert SECRET not in line


async def test_search_terms_in_query_strings_stay_out_of_the_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("gateway")
    try:

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={"items": []})

        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            await client.get("http://customers/customers", params={"q": "jane.doe@example.com"})
        logging.getLogger("gateway").info("listed customers")
    finally:
        logging.getLogger().handlers.clear()
    logged = capsys.readouterr().err
    assert "listed customers" in logged  # the handler did write
    assert "jane.doe" not in logged
