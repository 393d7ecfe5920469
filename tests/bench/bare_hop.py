"""The floor of a Python HTTP hop: what any gateway on these servers pays before its own work.

A bare ASGI app on uvicorn, served as the gateway is (uvicorn's defaults: httptools and
uvloop), that passes GET /customers?... to the customers service, signed with a fresh
service token as the gateway signs each call, and returns the service's status, content type
and bytes. No routing, validation, operator authentication, metrics or audit: the difference
between the gateway's hop and this one is the gateway's own work. Two clients:

- `httpx`: the gateway's own client library (one pooled AsyncClient);
- `raw`: HTTP/1.1 written by hand on kept-alive asyncio streams, the least a Python process
  can do to make the call.

    python -m tests.bench.bare_hop --client httpx|raw --port P --upstream URL --key KEY
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn

from services.runtime.service_auth import mint_service_token

Forward = Callable[[str, str], Awaitable[tuple[int, bytes, bytes]]]
"""(path and query, Authorization value) -> (status, content type, body)."""

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def httpx_forward(upstream: str) -> Forward:
    client = httpx.AsyncClient(base_url=upstream, timeout=60)

    async def forward(target: str, authorization: str) -> tuple[int, bytes, bytes]:
        response = await client.get(target, headers={"Authorization": authorization})
        content_type = response.headers.get("content-type", "application/json").encode()
        return response.status_code, content_type, response.content

    return forward


def raw_forward(upstream: str) -> Forward:
    """One kept-alive connection per request in flight (the benchmark sends one at a time)."""
    split = urlsplit(upstream)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def forward(target: str, authorization: str) -> tuple[int, bytes, bytes]:
        reader, writer = idle.pop() if idle else await asyncio.open_connection(host, port)
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: {authorization}\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            idle.append((reader, writer))
        content_type = headers.get("content-type", "application/json").encode()
        return int(status_line.split()[1]), content_type, body

    return forward


def app(forward: Forward, key: str) -> Callable[[dict[str, Any], Receive, Send], Awaitable[None]]:
    async def asgi(scope: dict[str, Any], _receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        query = scope["query_string"].decode("latin-1")
        target = scope["path"] + (f"?{query}" if query else "")
        authorization = f"Bearer {mint_service_token(key, actor='bench')}"
        status, content_type, body = await forward(target, authorization)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return asgi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", choices=("httpx", "raw"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    forward = (httpx_forward if args.client == "httpx" else raw_forward)(args.upstream)
    uvicorn.run(app(forward, args.key), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
