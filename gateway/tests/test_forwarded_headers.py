"""X-Forwarded-For counts only from a configured proxy: served by uvicorn as in production, a
client on 127.0.0.1 cannot pick the address the per-address sign-in limit counts."""

import asyncio
from pathlib import Path

import httpx
import pytest
import uvicorn

from deploy.local.kafka import free_port
from gateway.app import build, server_config
from gateway.tests.conftest import make_settings
from gateway.tests.fakes import FakeServices


async def _failures_then_one_more(tmp_path: Path, trusted_proxies: str) -> int:
    """Five failed sign-ins, each claiming another forwarded address, then a sixth; its status."""
    port = free_port()
    settings = make_settings(tmp_path, port=port, trusted_proxies=trusted_proxies)
    server = uvicorn.Server(
        server_config(settings, build(settings, transport=httpx.MockTransport(FakeServices())))
    )
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for n in range(5):
                failed = await client.post(
                    "/api/v1/auth/token",
                    data={"username": f"guess{n}", "password": "x"},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"},
                )
                assert failed.status_code == 401
            sixth = await client.post(
                "/api/v1/auth/token",
                data={"username": "guess9", "password": "x"},
                headers={"X-Forwarded-For": "203.0.113.99"},
            )
            return sixth.status_code
    finally:
        server.should_exit = True
        await serving


@pytest.mark.parametrize(
    ("trusted_proxies", "sixth"),
    [
        ("", 429),  # the header is ignored: all six came from 127.0.0.1
        ("127.0.0.1", 401),  # a trusted proxy's header names six different clients
    ],
)
async def test_forwarded_for_counts_only_from_a_trusted_proxy(
    tmp_path: Path, trusted_proxies: str, sixth: int
) -> None:
    assert await _failures_then_one_more(tmp_path, trusted_proxies) == sixth
