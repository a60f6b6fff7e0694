"""The rush: a scripted, reproducible morning on the whole hall (servicehall hall --rush N)."""
