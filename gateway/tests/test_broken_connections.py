"""A service that fails one request must not fail the next ones: a real uvicorn server on
loopback serves the real activity service, which answers one request with an unexpected error.

What happens then is what uvicorn does with any FastAPI service: Starlette answers the 500 on
the keep-alive connection, then the exception reaches uvicorn, which writes the traceback and
only then closes the connection. Here writing the traceback takes 0.3 s (a loaded machine, a
slow disk), so the gateway's pool still holds the connection as idle and alive when the next
request takes it: without a second attempt that request is a 503.
"""

import asyncio
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from gateway.app import build
from gateway.downstream import IDLE_CONNECTION_SECONDS
from gateway.tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, make_settings, sign_in
from gateway.tests.services import SERVICE_TOKEN_SECRET
from services.activity.app import SPEC as ACTIVITY
from services.runtime.service_app import Runtime, create_app, get_runtime
from services.runtime.tests._helpers import migrated_sqlite_url

TRACEBACK_WRITING_SECONDS = 0.3
CUSTOMER = "0d1c3b9e-52a4-4c7e-9a55-3c1f2b7d8e61"


class SlowTraceback(logging.Handler):
    """Stands for the time a busy service takes to log an error's traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            time.sleep(TRACEBACK_WRITING_SECONDS)


class ActivityFailingOnce:
    """The real activity app; `fail_next()` makes its next request raise inside the app."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.armed = False
        runtime: Runtime = app.state.runtime

        async def runtime_or_failure() -> Runtime:
            if self.armed:
                self.armed = False
                raise RuntimeError("activity failed on purpose (test)")
            return runtime

        app.dependency_overrides[get_runtime] = runtime_or_failure

    def fail_next(self) -> None:
        self.armed = True


@pytest.fixture
async def activity(request: pytest.FixtureRequest, tmp_path: Path) -> ActivityFailingOnce:
    url = await migrated_sqlite_url(request, tmp_path, ACTIVITY)
    settings = ACTIVITY.settings(
        database_url=url, port=0, service_token_secret=SecretStr(SERVICE_TOKEN_SECRET)
    )
    return ActivityFailingOnce(create_app(ACTIVITY, settings))


@pytest.fixture
def activity_url(activity: ActivityFailingOnce) -> Iterator[str]:
    """`activity` served by uvicorn in a thread on a loopback port of its own."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # No lifespan: the routes need the database only, not Kafka.
    config = uvicorn.Config(activity.app, lifespan="off", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    uvicorn_errors = logging.getLogger("uvicorn.error")
    slow = SlowTraceback()
    uvicorn_errors.addHandler(slow)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        uvicorn_errors.removeHandler(slow)
        sock.close()


@pytest.fixture
async def gateway(tmp_path: Path, activity_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway over the network (its real pooled client), activity at `activity_url`."""
    app = build(make_settings(tmp_path, activity_url=activity_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield http


async def test_requests_after_a_service_500_all_succeed(
    gateway: httpx.AsyncClient, activity: ActivityFailingOnce
) -> None:
    admin = await sign_in(gateway, ADMIN_USERNAME, ADMIN_PASSWORD)
    devices = f"/api/v1/customers/{CUSTOMER}/devices"
    # A few connections in the pool, as on a gateway in use.
    warm = await asyncio.gather(*(gateway.get(devices, headers=admin) for _ in range(3)))
    assert [r.status_code for r in warm] == [200] * 3, warm[0].text

    activity.fail_next()
    failed = await gateway.get(devices, headers=admin)
    assert failed.status_code == 502, failed.text

    statuses = []
    for _ in range(15):
        response = await gateway.get(devices, headers=admin)
        statuses.append((response.status_code, response.json().get("detail")))
    assert statuses == [(200, None)] * 15


async def test_a_keyed_write_after_a_service_500_is_sent_again(
    gateway: httpx.AsyncClient, activity: ActivityFailingOnce
) -> None:
    admin = await sign_in(gateway, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert (await gateway.get(f"/api/v1/customers/{CUSTOMER}/devices", headers=admin)).is_success

    activity.fail_next()
    failed = await gateway.get(f"/api/v1/customers/{CUSTOMER}/devices", headers=admin)
    assert failed.status_code == 502, failed.text

    # The service answers it (no such device), which only a second connection could carry.
    unbind = await gateway.delete(
        f"/api/v1/customers/{CUSTOMER}/devices/tv-1",
        headers={**admin, "Idempotency-Key": "unbind-tv-1-after-500"},
    )
    assert unbind.status_code == 404, unbind.text


async def test_an_unkeyed_write_on_a_broken_connection_is_not_sent_twice(
    gateway: httpx.AsyncClient, activity: ActivityFailingOnce
) -> None:
    # The service may have acted on a write it never answered: without a key, only the
    # client can decide to send it again.
    admin = await sign_in(gateway, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert (await gateway.get(f"/api/v1/customers/{CUSTOMER}/devices", headers=admin)).is_success

    activity.fail_next()
    failed = await gateway.get(f"/api/v1/customers/{CUSTOMER}/devices", headers=admin)
    assert failed.status_code == 502, failed.text

    unbind = await gateway.delete(f"/api/v1/customers/{CUSTOMER}/devices/tv-1", headers=admin)
    assert unbind.status_code == 503, unbind.text
    assert unbind.json()["service"] == "activity"


def test_the_gateway_drops_an_idle_connection_before_a_service_would() -> None:
    """Otherwise an unkeyed write (never retried) can go out on a socket uvicorn is closing."""
    services_idle_close = uvicorn.Config(FastAPI()).timeout_keep_alive
    assert services_idle_close / 2 > IDLE_CONNECTION_SECONDS
