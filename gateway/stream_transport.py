"""HTTP/1.1 to the services on kept-alive asyncio streams: httpx's transport, minus its cost.

httpx with its own transport (httpcore's pool, anyio locks, h11's pure-Python parser) cost a
bare forwarder 4.0 ms of CPU per call on this project's 2-core machine, the same forwarder
writing HTTP/1.1 by hand 1.2 ms (docs/performance.md, the bare hops of `customers_list`).
This transport keeps httpx's client, requests and responses, which the gateway and its tests
are built on, and writes and reads the bytes itself: a request line and headers, the body
with its Content-Length, and an answer framed by Content-Length, chunked coding or the end of
the connection.

What the gateway relies on is kept: the errors are httpx's (ConnectError, WriteError, ReadError,
RemoteProtocolError when the server closes a connection without an answer, the timeouts), so
`Downstream` still repeats a repeatable call on a new connection; an idle connection expires
after `keepalive_expiry` and one the server has closed is not reused; a call cancelled midway
closes its connection instead of returning it with an answer half read. Plain http only: the
services are reached on the operator's internal network (an https URL goes through httpx's
own transport).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float

    def close(self) -> None:
        self.writer.close()


class StreamTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over a pool of kept-alive connections per host and port."""

    def __init__(self, *, keepalive_expiry: float = 5.0, max_connections: int = 100) -> None:
        self.keepalive_expiry = keepalive_expiry
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._slots = asyncio.Semaphore(max_connections)
        self._tls: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            if self._tls is None:
                self._tls = httpx.AsyncHTTPTransport(retries=0)
            return await self._tls.handle_async_request(request)
        timeouts: Mapping[str, float | None] = request.extensions.get("timeout", {})
        host = request.url.host
        port = request.url.port or 80
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection in time", request=request) from None
        try:
            connection = await self._connection(request, host, port, timeouts.get("connect"))
            try:
                response, keep = await self._exchange(request, connection, timeouts)
            except BaseException:
                # Cancelled or failed midway: what is left on the socket is unknown.
                connection.close()
                raise
            if keep:
                connection.idle_since = time.monotonic()
                self._idle.setdefault((host, port), []).append(connection)
            else:
                connection.close()
            return response
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        if self._tls is not None:
            await self._tls.aclose()

    async def _connection(
        self, request: httpx.Request, host: str, port: int, timeout: float | None
    ) -> _Connection:
        """The most recently used live connection to host:port, or a new one."""
        idle = self._idle.get((host, port), [])
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            # A server that closed the connection has left EOF in the reader.
            if now - connection.idle_since < self.keepalive_expiry and not (
                connection.reader.at_eof() or connection.writer.is_closing()
            ):
                return connection
            connection.close()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"no connection to {host}:{port} in time", request=request
            ) from None
        except OSError as error:
            raise httpx.ConnectError(
                f"cannot connect to {host}:{port}: {error}", request=request
            ) from None
        return _Connection(reader, writer, now)

    async def _exchange(
        self,
        request: httpx.Request,
        connection: _Connection,
        timeouts: Mapping[str, float | None],
    ) -> tuple[httpx.Response, bool]:
        body = await request.aread()
        head = [f"{request.method} {request.url.raw_path.decode('ascii')} HTTP/1.1\r\n".encode()]
        has_length = False
        for name, value in request.headers.raw:
            lowered = name.lower()
            if lowered == b"transfer-encoding":
                continue  # the body was read whole: it goes with its length
            has_length = has_length or lowered == b"content-length"
            head.append(name + b": " + value + b"\r\n")
        if not has_length and (body or request.method in ("POST", "PUT", "PATCH")):
            head.append(b"Content-Length: " + str(len(body)).encode() + b"\r\n")
        head.append(b"\r\n")
        try:
            connection.writer.write(b"".join(head) + body)
            async with asyncio.timeout(timeouts.get("write")):
                await connection.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout(
                "the request could not be sent in time", request=request
            ) from None
        except OSError as error:
            raise httpx.WriteError(str(error) or type(error).__name__, request=request) from None
        try:
            async with asyncio.timeout(timeouts.get("read")):
                return await _read_response(request, connection.reader)
        except TimeoutError:
            raise httpx.ReadTimeout("no answer in time", request=request) from None
        except asyncio.IncompleteReadError:
            # A kept-alive connection the server had closed, or a server that died midway.
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a complete response.", request=request
            ) from None
        except (asyncio.LimitOverrunError, ValueError, IndexError) as error:
            # A head beyond the reader's 64 KiB limit, or one that is not HTTP/1.x.
            raise httpx.RemoteProtocolError(
                f"a malformed answer: {error}", request=request
            ) from None
        except OSError as error:
            raise httpx.ReadError(str(error) or type(error).__name__, request=request) from None


async def _read_response(
    request: httpx.Request, reader: asyncio.StreamReader
) -> tuple[httpx.Response, bool]:
    """One answer (interim 1xx answers skipped) and whether the connection can be reused."""
    while True:
        status, reason, version, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
        if status >= 200 or status == 101:
            break
    names = {name.lower(): value for name, value in headers}
    connection_tokens = {t.strip().lower() for t in names.get(b"connection", b"").split(b",")}
    keep = b"close" not in connection_tokens and (
        version == b"HTTP/1.1" or b"keep-alive" in connection_tokens
    )
    if request.method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        content = b""
    elif b"chunked" in names.get(b"transfer-encoding", b"").lower():
        content = await _read_chunked(reader)
    elif b"content-length" in names:
        content = await reader.readexactly(int(names[b"content-length"]))
    else:
        content = await reader.read()  # framed by the end of the connection
        keep = False
    extensions: dict[str, Any] = {"http_version": version, "reason_phrase": reason}
    response = httpx.Response(
        status, headers=headers, content=content, request=request, extensions=extensions
    )
    return response, keep


def _parse_head(head: bytes) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
    status_line, *lines = head[:-4].split(b"\r\n")
    version, status, *reason = status_line.split(b" ", 2)
    if not version.startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {status_line[:40]!r}")
    headers = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ValueError(f"a header line without a name: {line[:40]!r}")
        headers.append((name, value.strip()))
    return int(status), reason[0] if reason else b"", version, headers


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            # Trailers, if any, up to the empty line that ends the message.
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("a chunk not followed by CRLF")
