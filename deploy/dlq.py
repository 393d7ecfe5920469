"""The dead-letter topics from a terminal, through the gateway's admin API (so every replay is
audited under the operator who ran it):

    python -m deploy.dlq topics                         counts per dead-letter topic
    python -m deploy.dlq show apps.events [--pending]   the records, with their reasons
    python -m deploy.dlq replay apps.events             send the pending ones back

Signs in as --username (default $ADMIN_USERNAME or admin) with $TVCM_PASSWORD, or asks for the
password; or uses --api-key / $TVCM_API_KEY.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

import httpx


def _client(args: argparse.Namespace) -> httpx.Client:
    client = httpx.Client(base_url=args.gateway.rstrip("/"), timeout=30.0, trust_env=False)
    api_key = args.api_key or os.environ.get("TVCM_API_KEY")
    if api_key:
        client.headers["X-API-Key"] = api_key
        return client
    password = os.environ.get("TVCM_PASSWORD") or getpass.getpass(f"{args.username}'s password: ")
    answer = client.post(
        "/api/v1/auth/token", data={"username": args.username, "password": password}
    )
    _check(answer)
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return client


def _check(answer: httpx.Response) -> None:
    if answer.is_error:
        try:
            problem = answer.json()
            message = problem.get("detail") or problem.get("title")
        except ValueError:
            message = answer.text[:300]
        raise SystemExit(f"{answer.status_code}: {message}")


def _topics(client: httpx.Client, args: argparse.Namespace) -> None:
    answer = client.get("/api/v1/dead-letters")
    _check(answer)
    print(f"{'topic':<24} {'total':>7} {'pending':>8}")
    for row in answer.json()["items"]:
        print(f"{row['topic']:<24} {row['total']:>7} {row['pending']:>8}")


def _show(client: httpx.Client, args: argparse.Namespace) -> None:
    params: dict[str, Any] = {"limit": 200, "pending": args.pending}
    shown = 0
    while shown < args.max:
        answer = client.get(f"/api/v1/dead-letters/{args.topic}", params=params)
        _check(answer)
        page = answer.json()
        for item in page["items"]:
            if args.json:
                print(json.dumps(item))
            else:
                mark = "replayed" if item["replayed"] else "pending "
                print(
                    f"{item['partition']}/{item['offset']} {mark} {item['dead_lettered_at']} "
                    f"{item['consumer'] or '-'} {item['event_type'] or '-'} "
                    f"{item['event_id'] or '-'}"
                    f"\n    {item['reason']}"
                )
            shown += 1
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]


def _replay(client: httpx.Client, args: argparse.Namespace) -> None:
    answer = client.post(f"/api/v1/dead-letters/{args.topic}/replay")
    _check(answer)
    result = answer.json()
    print(
        f"replayed {result['replayed']} record(s) of {result['topic']}"
        + (
            f", {result['unroutable']} without a source topic skipped"
            if result["unroutable"]
            else ""
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.dlq",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))
    parser.add_argument("--api-key", default=None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("topics", help="counts per dead-letter topic")
    show = commands.add_parser("show", help="the records of one dead-letter topic")
    show.add_argument("topic", help="the source topic, e.g. apps.events")
    show.add_argument("--pending", action="store_true", help="only records not yet replayed")
    show.add_argument("--max", type=int, default=1000, help="at most this many records")
    show.add_argument("--json", action="store_true", help="one JSON object per line")
    replay = commands.add_parser("replay", help="send the pending records back")
    replay.add_argument("topic", help="the source topic, e.g. apps.events")
    args = parser.parse_args(argv)
    client = _client(args)
    try:
        {"topics": _topics, "show": _show, "replay": _replay}[args.command](client, args)
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
