"""The project's environment: `make` installs into .venv from requirements.lock, the lock agrees
with pyproject.toml, and CI goes through the same make targets. Static: reads the files."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_pins() -> dict[str, str]:
    """pyproject.toml's dependencies, dev extras included: name -> pinned version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = {}
    for requirement in requirements:
        match = _PIN.match(requirement)
        assert match, f"not pinned with ==: {requirement}"
        pins[_normalized(match[1])] = match[2]
    return pins


def locked_pins(text: str) -> dict[str, str]:
    return {
        _normalized(match[1]): match[2] for line in text.splitlines() if (match := _PIN.match(line))
    }


def lock_disagreements(declared: dict[str, str], locked: dict[str, str]) -> dict[str, str]:
    return {
        name: f"pyproject {version}, lock {locked.get(name, 'missing')}"
        for name, version in declared.items()
        if locked.get(name) != version
    }


def test_the_lock_has_every_dependency_of_pyproject_at_its_version() -> None:
    # Edited pyproject.toml without `make lock`: make and CI would install the old versions.
    locked = locked_pins(LOCK.read_text(encoding="utf-8"))
    assert lock_disagreements(declared_pins(), locked) == {}


def test_a_dependency_missing_from_the_lock_is_noticed() -> None:
    locked = locked_pins(LOCK.read_text(encoding="utf-8"))
    declared = {**declared_pins(), "fastapi": "0.0.1", "not-locked": "1.0"}
    assert set(lock_disagreements(declared, locked)) == {"fastapi", "not-locked"}


def test_every_locked_requirement_is_exact_and_hashed() -> None:
    # One requirement per entry: `name==version \` then its `--hash=sha256:` lines.
    entries = re.split(r"\n(?=\S)", LOCK.read_text(encoding="utf-8"))
    requirements = [e for e in entries if e.strip() and not e.startswith(("#", "-"))]
    assert len(requirements) == len(locked_pins("\n".join(requirements)))
    unhashed = [e.split()[0] for e in requirements if "--hash=sha256:" not in e]
    assert unhashed == []


def _recipe_lines(makefile: str) -> list[str]:
    return [line.strip() for line in makefile.splitlines() if line.startswith("\t")]


_BARE_TOOLS = {"python", "python3", "pip", "pip3", "pytest", "ruff", "mypy", "pip-compile"}


def bare_python_calls(makefile: str) -> list[str]:
    """Recipe lines with a command that runs a Python tool found on PATH, so the machine's and
    not the venv's (the commands are what comes first after any `VAR=value` assignments)."""
    bare = []
    for line in _recipe_lines(makefile):
        for command in re.split(r"&&|\|\||[;|]", line.lstrip("@-")):
            words = [w for w in command.split() if not re.match(r"^[A-Z_]+=", w)]
            if words and words[0] in _BARE_TOOLS:
                bare.append(line)
    return bare


def test_make_runs_everything_with_the_venv_s_interpreter() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^PYTHON := \$\(VENV\)/bin/python$", makefile, re.MULTILINE)
    assert re.search(r"^VENV \?= \.venv$", makefile, re.MULTILINE)
    assert bare_python_calls(makefile) == []
    assert bare_python_calls("x:\n\tA=1 python -m pytest\n") == ["A=1 python -m pytest"]
    assert bare_python_calls("x:\n\tcd y && ruff check .\n") == ["cd y && ruff check ."]


def test_make_installs_from_the_lock_then_the_project_without_dependencies() -> None:
    recipes = _recipe_lines((ROOT / "Makefile").read_text(encoding="utf-8"))
    lock_install = recipes.index("$(PYTHON) -m pip install -q -r requirements.lock")
    project_install = recipes.index("$(PYTHON) -m pip install -q --no-deps -e .")
    assert lock_install < project_install


def test_ci_installs_and_tests_through_make() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in script.splitlines() if not line.lstrip().startswith("#")]
    assert "make install" in commands and "make test" in commands
    assert commands.index("make install") < commands.index("make test")
    assert not [c for c in commands if re.search(r"\bpip\b.*\binstall\b", c)]
