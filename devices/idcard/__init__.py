"""Resident ID-card reader (二代身份证): SAM serial protocol, card records, driver and simulator."""
