"""What the hub tells its operators about itself while it runs: traces (docs/tracing.md)."""
