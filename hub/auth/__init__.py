"""Authentication: client secrets, token signing keys and OAuth 2.0 access tokens."""
