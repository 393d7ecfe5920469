"""The gateway in front of the four real in-process services, served over real HTTP by uvicorn
on a free port of 127.0.0.1, for clients that speak HTTP themselves (schemathesis).

Everything runs in one thread with its own event loop: the services' database pools belong to
the loop that opened them, so the pytest loop must not share them.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from gateway.app import build
from gateway.tests.conftest import make_settings
from gateway.tests.services import in_process_services


@contextmanager
def served_gateway(
    request: pytest.FixtureRequest, tmp_path: Path, **settings: object
) -> Iterator[str]:
    """The running gateway's base URL (`http://127.0.0.1:<port>`) until the block ends;
    `settings` change the gateway's test settings."""
    # Resolved here, in pytest's thread: the services' setup asks the request for it.
    request.getfixturevalue("tmp_path_factory")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    failed: list[BaseException] = []
    server: list[uvicorn.Server] = []

    async def serve() -> None:
        async with in_process_services(request, tmp_path) as services:
            app = build(make_settings(tmp_path, **settings), transport=services.transport)
            config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
            server.append(uvicorn.Server(config))
            await server[0].serve(sockets=[listener])

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as error:
            failed.append(error)

    thread = threading.Thread(target=run, name="served-gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while thread.is_alive() and time.monotonic() < deadline:
        if server and server[0].started:
            break
        time.sleep(0.05)
    try:
        if failed or not server or not server[0].started:
            raise RuntimeError(f"the gateway did not start: {failed!r}")
        yield f"http://127.0.0.1:{port}"
    finally:
        if server:
            server[0].should_exit = True
        thread.join(timeout=60)
        listener.close()
