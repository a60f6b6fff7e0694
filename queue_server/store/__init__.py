"""queue_server/store package."""
