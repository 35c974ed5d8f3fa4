"""What to tell the operator when the database or the brokers cannot be reached: one line, with
where the hub tried (scheme, user, host, port, database — never the password)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from hub.settings import Settings


def database_target(url: str) -> str:
    """`url` without its password (and without its query, which may carry TLS key paths)."""
    if url.startswith("sqlite"):
        return url.split("?", 1)[0]
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return url.split("://", 1)[0] + "://(unreadable URL)"
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc += f":{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def database_line(settings: Settings, *, migration: bool, cause: str) -> str:
    """The database the command tried, named by its setting, and why it failed."""
    if migration:
        url, setting = settings.resolved_migration_url, "HUB_DATABASE_MIGRATION_URL"
        if settings.database_migration_url is None:
            setting = "HUB_DATABASE_URL"
    else:
        url, setting = settings.resolved_database_url, "HUB_DATABASE_URL"
    return f"cannot reach the database {database_target(url)} ({setting}): {cause}"


def broker_line(settings: Settings, cause: str) -> str:
    """The Kafka brokers the command tried (HUB_KAFKA_BOOTSTRAP holds no credentials)."""
    return f"cannot reach Kafka at {settings.kafka_bootstrap} (HUB_KAFKA_BOOTSTRAP): {cause}"
