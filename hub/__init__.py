"""Public Protection Hub: an event-sourced information-sharing hub for public protection."""

__version__ = "0.1.0"
