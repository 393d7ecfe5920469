"""The README's configuration table against the settings classes, both ways: every variable in
the table is read by some process, and every setting of every process is in the table. Also
that no service module reads the environment on its own, outside its settings class."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from gateway.settings import GatewaySettings
from services.activity.config import ActivitySettings
from services.billing.config import BillingSettings
from services.customers.config import CustomersSettings
from services.tickets.config import TicketsSettings

ROOT = Path(__file__).resolve().parents[1]
SETTINGS: tuple[type[BaseSettings], ...] = (
    CustomersSettings,
    BillingSettings,
    TicketsSettings,
    ActivitySettings,
    GatewaySettings,
)
SERVICE_PATTERN = "<SERVICE>"
SERVICES = ("CUSTOMERS", "BILLING", "TICKETS", "ACTIVITY")


def variables_of(field: FieldInfo) -> set[str]:
    alias = field.validation_alias
    if isinstance(alias, str):
        return {alias}
    if isinstance(alias, AliasChoices):
        return {choice for choice in alias.choices if isinstance(choice, str)}
    return set()


def settings_variables() -> dict[str, set[str]]:
    """Every variable a process reads -> the settings fields reading it (`Class.field`)."""
    read: dict[str, set[str]] = {}
    for settings in SETTINGS:
        for name, field in settings.model_fields.items():
            for variable in variables_of(field):
                read.setdefault(variable, set()).add(f"{settings.__name__}.{name}")
    return read


def fields_without_a_variable() -> list[str]:
    # A field without an alias would be read from its own name (`port` as PORT): a variable
    # nobody documented, so every field must name its variable.
    return [
        f"{settings.__name__}.{name}"
        for settings in SETTINGS
        for name, field in settings.model_fields.items()
        if not variables_of(field)
    ]


def table_rows(readme: str) -> list[str]:
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "no configuration table under ## Configuration"
    return rows


def table_variables(readme: str) -> set[str]:
    """The names in the table's first column, `<SERVICE>_X` expanded to each service."""
    names: set[str] = set()
    for row in table_rows(readme):
        first_column = row.split("|")[1]
        for name in re.findall(r"`([^`]+)`", first_column):
            if name.startswith(SERVICE_PATTERN):
                names |= {name.replace(SERVICE_PATTERN, service) for service in SERVICES}
            else:
                names.add(name)
    return names


def test_every_setting_names_its_environment_variable() -> None:
    assert fields_without_a_variable() == []


def test_every_variable_in_the_readme_is_read_by_a_settings_class() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert sorted(table_variables(readme) - set(settings_variables())) == []


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = {
        variable: sorted(fields)
        for variable, fields in settings_variables().items()
        if variable not in table_variables(readme)
    }
    assert missing == {}


def test_the_table_check_sees_a_missing_and_a_stale_row() -> None:
    # The two checks above compare against this parse: it must see what the table says.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = table_rows(readme)
    [port_row] = [row for row in rows if row.startswith("| `<SERVICE>_PORT`")]
    without = readme.replace(port_row + "\n", "")
    assert "BILLING_PORT" in table_variables(readme)
    assert "BILLING_PORT" not in table_variables(without)
    stale = readme.replace(port_row, port_row.replace("`GATEWAY_PORT`", "`GATEWAY_LISTEN_PORT`"))
    assert "GATEWAY_LISTEN_PORT" in table_variables(stale) - set(settings_variables())


def test_no_service_module_reads_the_environment_itself() -> None:
    # Settings come from the settings classes, loaded at start; a module reading os.environ
    # (at import time or later) escapes both the validation and the table above.
    readers = [
        str(path.relative_to(ROOT))
        for package in ("services", "gateway")
        for path in (ROOT / package).rglob("*.py")
        if "tests" not in path.relative_to(ROOT).parts
        and re.search(r"os\.environ|getenv\(", path.read_text(encoding="utf-8"))
    ]
    assert readers == []
