"""queue_server/engine package."""
