"""devices/transport package."""
