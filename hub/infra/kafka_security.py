"""How the hub's Kafka clients authenticate to the brokers: aiokafka's client options from the
settings (PLAINTEXT by default; mTLS with `SSL`; SASL/SCRAM over TLS with `SASL_SSL`)."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context  # type: ignore[import-untyped, unused-ignore]

from hub.errors import InvalidInput
from hub.settings import Settings

__all__ = ["client_options"]


def client_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments every producer, consumer and admin client of the hub is given."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=_path(settings.kafka_ssl_cafile),
            certfile=_path(settings.kafka_ssl_certfile),
            keyfile=_path(settings.kafka_ssl_keyfile),
        )
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        username = settings.kafka_sasl_username
        if settings.kafka_sasl_mechanism is None or not username or password is None:
            raise InvalidInput(
                f"HUB_KAFKA_SECURITY_PROTOCOL={protocol} needs HUB_KAFKA_SASL_MECHANISM, "
                "HUB_KAFKA_SASL_USERNAME and HUB_KAFKA_SASL_PASSWORD"
            )
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=username,
            sasl_plain_password=password.get_secret_value(),
        )
    return options


def _path(path: object) -> str | None:
    return None if path is None else str(path)
