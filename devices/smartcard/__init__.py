"""PC/SC smart-card reader (pyscard), the social-security card, and a virtual card for pcscd's vpcd reader."""
