"""queue_server/api package."""
