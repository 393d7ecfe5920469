"""/docs is Swagger UI from the gateway's own files, under the console's CSP."""

import re

import httpx

from gateway.web_console import CONTENT_SECURITY_POLICY


async def test_the_docs_page_loads_nothing_from_elsewhere_and_runs_no_inline_script(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs-ui/") for s in sources)
    assert re.search(r"<script>\s*\S", page.text) is None  # no inline script
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200, source
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
