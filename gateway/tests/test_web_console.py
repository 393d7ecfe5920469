"""The console's files: served by the gateway, complete, and loading nothing from elsewhere."""

import re

import httpx

from gateway.web_console import CONSOLE_DIR

IMPORT = re.compile(r"""(?:import|from)\s+(?:[^'"]*?\s+from\s+)?["']([^"']+)["']""")


async def test_root_serves_the_console_with_a_same_origin_policy(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    for asset in ("/console/styles.css", "/console/js/main.js"):
        assert asset in page.text
        assert (await client.get(asset)).status_code == 200


async def test_every_module_import_is_a_served_file_and_nothing_is_remote(
    client: httpx.AsyncClient,
) -> None:
    files = sorted(CONSOLE_DIR.rglob("*.js")) + sorted(CONSOLE_DIR.rglob("*.css"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text
        if path.suffix != ".js":
            continue
        for target in IMPORT.findall(text):
            assert target.startswith("./"), f"{path.name} imports {target}"
            served = await client.get(f"/console/js/{target[2:]}")
            assert served.status_code == 200, f"{path.name} imports missing {target}"
            assert "javascript" in served.headers["content-type"]
