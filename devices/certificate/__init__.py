"""Self-service certificate printing (自助证照打印): A4 PDFs from the e-licence library, printed through CUPS."""
