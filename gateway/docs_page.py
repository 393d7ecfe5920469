"""The API docs at /docs: Swagger UI served by the gateway itself (swagger-ui-dist, vendored in
gateway/docs_ui/ from the npm package, see its LICENSE), under the console's
Content-Security-Policy.

FastAPI's own /docs page loads Swagger UI from a CDN without integrity and starts it with an
inline script: a third party's code in a page that handles operators' tokens. Here every file
comes from the gateway and the page runs no inline script.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from gateway.web_console import CONTENT_SECURITY_POLICY

DOCS_UI_DIR = Path(__file__).parent / "docs_ui"


def mount_docs(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(
            DOCS_UI_DIR / "index.html",
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
            },
        )

    app.mount("/docs-ui", StaticFiles(directory=DOCS_UI_DIR), name="docs-ui")
