"""The hub's domain: notifications, people, policy. Standard library only."""
