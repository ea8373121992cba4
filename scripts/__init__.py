"""The `jeeves` driver CLI and helper scripts (driver side)."""
