"""The gateway's HTTP/1.1 transport against a server on loopback that answers as told: the
framings a server may use, connections kept and not kept, and every way a call can fail
turned into the httpx error `Downstream` acts on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from gateway.stream_transport import StreamTransport

Answer = Callable[[bytes, bytes], bytes | None]
"""(request head, request body) -> the bytes to write back (b"": none, the connection kept);
None closes the connection unanswered, bytes ending in CLOSE close it after they are written."""
CLOSE = b"<close>"


@dataclass
class Server:
    answer: Answer
    connections: int = 0
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append((head, body))
                answer = self.answer(head, body)
                if answer is None:
                    break
                writer.write(answer.removesuffix(CLOSE))
                await writer.drain()
                if answer.endswith(CLOSE) or b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _started(server: Server) -> asyncio.Server:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listening.sockets[0].getsockname()[1]
    return listening


def ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + extra
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


async def _client(server: Server, **transport: float) -> tuple[httpx.AsyncClient, asyncio.Server]:
    listening = await _started(server)
    client = httpx.AsyncClient(
        transport=StreamTransport(**transport),  # type: ignore[arg-type]
        base_url=f"http://127.0.0.1:{server.port}",
        timeout=2,
    )
    return client, listening


async def test_calls_share_one_kept_alive_connection_and_send_what_httpx_built() -> None:
    server = Server(lambda head, body: ok(b'{"n": %d}' % len(body)))
    client, listening = await _client(server)
    async with client, listening:
        first = await client.get("/customers", params={"q": "a b", "limit": 5})
        second = await client.post("/customers", json={"name": "Ann"})
        empty = await client.post("/customers/x/renew")

    assert first.json() == {"n": 0} and second.json() == {"n": 14} and empty.status_code == 200
    assert server.connections == 1
    head, body = server.requests[1]
    assert head.startswith(b"POST /customers HTTP/1.1\r\n")
    assert b"content-length: 14\r\n" in head.lower() and body == b'{"name":"Ann"}'
    assert server.requests[0][0].startswith(b"GET /customers?q=a+b&limit=5 HTTP/1.1\r\n")
    assert b"\r\nhost: 127.0.0.1:" in server.requests[0][0].lower()
    # A POST without a body still says so: a server must not wait for one.
    assert b"content-length: 0\r\n" in server.requests[2][0].lower()


async def test_chunked_answers_repeated_headers_and_the_reason_phrase() -> None:
    chunked = (
        b"HTTP/1.1 409 Conflict\r\ntransfer-encoding: chunked\r\nset-cookie: a=1\r\n"
        b'set-cookie: b=2\r\n\r\n4;ext=1\r\n{"a"\r\n5\r\n: 1}\n\r\n0\r\ntrailer: x\r\n\r\n'
    )
    server = Server(lambda head, body: chunked)
    client, listening = await _client(server)
    async with client, listening:
        answer = await client.get("/x")
        again = await client.get("/x")

    assert answer.status_code == 409 and answer.reason_phrase == "Conflict"
    assert answer.json() == {"a": 1} and again.json() == {"a": 1}
    assert answer.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert server.connections == 1


async def test_no_body_for_head_204_and_an_answer_framed_by_the_end_of_the_connection() -> None:
    answers = iter(
        [
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n",  # a HEAD: the length of a GET
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"[]"),
            # No length, no chunks: the answer is what comes until the server closes.
            b"HTTP/1.1 200 OK\r\n\r\nuntil the end" + CLOSE,
        ]
    )
    server = Server(lambda head, body: next(answers))
    client, listening = await _client(server)
    async with client, listening:
        head = await client.head("/x")
        no_content = await client.delete("/x")
        after_interim = await client.get("/x")
        last = await client.get("/x")

    assert head.status_code == 200 and head.content == b""
    assert no_content.status_code == 204 and no_content.content == b""
    assert after_interim.json() == []
    assert last.content == b"until the end"


async def test_a_connection_the_server_closed_or_that_sat_idle_too_long_is_not_reused() -> None:
    server = Server(lambda head, body: ok(extra=b"connection: close\r\n"))
    client, listening = await _client(server, keepalive_expiry=0.2)
    async with client, listening:
        await client.get("/x")
        await client.get("/x")  # the server said close: a new connection
        server.answer = lambda head, body: ok()
        await client.get("/x")
        await client.get("/x")  # kept
        await asyncio.sleep(0.3)
        await client.get("/x")  # expired: a new one
    assert server.connections == 4


async def test_a_kept_connection_closed_by_the_server_unanswered_is_a_remote_protocol_error() -> (
    None
):
    answers: list[bytes | None] = [ok(), None]
    server = Server(lambda head, body: answers.pop(0) if answers else ok())
    client, listening = await _client(server)
    async with client, listening:
        await client.get("/x")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/x")
        # What Downstream does for a repeatable call: once more, on a new connection.
        assert (await client.get("/x")).json() == {"ok": True}
    assert server.connections == 2


async def test_an_answer_cut_short_or_malformed_is_a_remote_protocol_error() -> None:
    answers = [
        b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\nshort" + CLOSE,
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab" + CLOSE,
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n" + CLOSE,
        b"SPDY/3 200 OK\r\n\r\n" + CLOSE,
        b"HTTP/1.1 2xx OK\r\n\r\n" + CLOSE,
    ]
    server = Server(lambda head, body: answers.pop(0))
    client, listening = await _client(server)
    async with client, listening:
        for _ in range(5):
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get("/x")
    assert not answers


async def test_nobody_listening_is_a_connect_error() -> None:
    listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    async with httpx.AsyncClient(transport=StreamTransport(), timeout=2) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/x")


async def test_a_slow_answer_times_out_and_its_connection_is_not_reused() -> None:
    def answer(head: bytes, body: bytes) -> bytes | None:
        return ok()

    server = Server(answer)
    listening = await _started(server)
    transport = StreamTransport()
    async with listening, httpx.AsyncClient(transport=transport, timeout=0.2) as client:
        url = f"http://127.0.0.1:{server.port}/x"
        await client.get(url)
        server.answer = lambda head, body: b""  # answers nothing, keeps the connection
        with pytest.raises(httpx.ReadTimeout):
            await client.get(url)
        server.answer = answer
        assert (await client.get(url)).json() == {"ok": True}
        # A call cancelled midway (Downstream's overall deadline) leaves nothing in the pool.
        server.answer = lambda head, body: b""
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await client.get(url)
        server.answer = answer
        assert (await client.get(url)).json() == {"ok": True}
    assert server.connections == 3
