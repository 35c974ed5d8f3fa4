"""The console's integration tests sign in through a real Keycloak (tests/keycloak.py)."""

from tests.keycloak import keycloak  # noqa: F401 - a fixture, used by name
