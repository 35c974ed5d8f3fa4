"""Settings that cannot be read, told as the operator set them: one line per problem, naming the
`HUB_…` environment variable (not the field), and never the value given (it may be a password,
a key or a database URL with credentials)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from hub.settings import Settings

#: pydantic-settings' message when a list or mapping setting is not JSON.
_UNPARSED = re.compile(r'error parsing value for field "(?P<field>\w+)"')


def variable(field: str) -> str:
    """The environment variable that sets `field`."""
    return f"HUB_{field.upper()}"


def describe(error: ValidationError | SettingsError) -> list[str]:
    """One line per problem, each starting with the variable it is about where there is one."""
    if isinstance(error, SettingsError):
        return [_describe_unparsed(error)]
    lines = []
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        message = problem["msg"].removeprefix("Value error, ")
        location = [str(part) for part in problem["loc"]]
        if not location:
            # A check across settings: its message names the variables itself.
            lines.append(message)
            continue
        where = variable(location[0])
        if len(location) > 1:
            where += f" (at {'.'.join(location[1:])})"
        # A validator's own message may name its variable already.
        lines.append(message if message.startswith(where) else f"{where}: {message}")
    return [redact(line, secret_values(os.environ)) for line in lines]


def _describe_unparsed(error: SettingsError) -> str:
    found = _UNPARSED.search(str(error))
    if found is None:
        return "the HUB_ settings could not be read: " + str(error).splitlines()[0]
    field = found["field"]
    info = Settings.model_fields.get(field)
    shape = "list"
    if info is not None and "dict" in str(info.annotation):
        shape = "object"
    example = {
        "list": '["a", "b"], or for numbers [5, 300, 1800]',
        "object": '{"name": "value"}',
    }[shape]
    return f"{variable(field)}: not valid JSON; give a JSON {shape}, e.g. {example}"


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """The values of every secret setting in `environ`, and the passwords of its URLs: text no
    message may show."""
    secrets = []
    for field, info in Settings.model_fields.items():
        value = _lookup(environ, variable(field))
        if value is None or "SecretStr" not in str(info.annotation):
            continue
        secrets += _hidden_parts(field, value)
    return [s for s in secrets if len(s) >= 3]


def secret_values_of(settings: Settings) -> list[str]:
    """The secrets `settings` holds, and the passwords of its URLs."""
    found: list[str] = []
    for field in Settings.model_fields:
        value = getattr(settings, field)
        if isinstance(value, dict):
            items = list(value.values())
        elif isinstance(value, tuple | list):
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, SecretStr):
                found += _hidden_parts(field, item.get_secret_value())
    return [secret for secret in found if len(secret) >= 3]


def _hidden_parts(field: str, value: str) -> list[str]:
    # A database URL is secret for its password; the rest says where the hub tried to connect.
    if field.endswith("_url"):
        password = _password(value)
        return [password] if password else []
    return [value]


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (longest first) replaced by `***`."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _lookup(environ: Mapping[str, str], name: str) -> str | None:
    # pydantic-settings reads environment variables case-insensitively.
    for key, value in environ.items():
        if key.upper() == name:
            return value
    return None


def _password(url: str) -> str | None:
    found = re.match(r"^[\w+.-]+://[^:/@]*:(?P<password>[^@]*)@", url)
    return None if found is None else found["password"]
