"""The web console: a single page (plain ES modules and CSS under gateway/console/) at `/`.

Everything it loads comes from the gateway itself; the Content-Security-Policy says so to the
browser too, so nothing is fetched from elsewhere at run time even by mistake.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

CONSOLE_DIR = Path(__file__).parent / "console"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def mount_console(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(
            CONSOLE_DIR / "index.html",
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                # The page is tiny and changes with each release: always ask.
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
            },
        )

    app.mount("/console", StaticFiles(directory=CONSOLE_DIR), name="console")
