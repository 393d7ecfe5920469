"""Secrets kept in DATA_DIR for development (`make run`) and the check that refuses weak ones in
production. One place for every generated key: the gateway's JWT secret, the service token's."""

import os
import secrets
import tempfile
from pathlib import Path

MIN_SECRET_LENGTH = 32
# Values people paste from examples; refused in production whatever their length.
_KNOWN_WEAK_SECRETS = {
    "changeme",
    "change-me",
    "changethis",
    "secret",
    "jwt_secret",
    "jwt-secret",
    "password",
    "development",
    "dev",
    "test",
}


def is_weak_secret(secret: str) -> bool:
    """Too short, a known placeholder, or built from a handful of characters ("aaaa...")."""
    if secret.lower() in _KNOWN_WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH:
        return True
    return len(set(secret)) < 10


def read_or_create_secret(path: Path) -> str:
    """The secret stored at `path`, created (readable by the owner only) on first use."""
    if path.exists():
        stored = path.read_text(encoding="utf-8").strip()
        if stored:
            return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # Written whole to a private file, then linked into place: `make run` starts five
    # processes at once, and the one that loses the race must never read a half-written file.
    fd, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret)
        try:
            os.link(staged, path)
        except FileExistsError:
            return path.read_text(encoding="utf-8").strip()
    finally:
        os.unlink(staged)
    return secret


def resolve_secret(
    name: str, value: str | None, *, data_dir: Path, file_name: str, production: bool
) -> str:
    """The secret `name` (an environment variable) from `value`; unset outside production:
    generated into DATA_DIR/`file_name`. Production must name a strong one: replicas share it,
    so a per-host generated file would sign tokens the other replicas refuse."""
    if production:
        if not value:
            raise ValueError(f"{name} must be set when ENVIRONMENT=production")
        if is_weak_secret(value):
            raise ValueError(f"{name} is weak: use at least {MIN_SECRET_LENGTH} random characters")
        return value
    return value or read_or_create_secret(data_dir / file_name)


def is_production(environment: str) -> bool:
    return environment.lower() in ("production", "prod")
