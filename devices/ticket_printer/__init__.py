"""80 mm ESC/POS ticket printers: DLE EOT status, ticket layout, driver, byte-level simulator, PNG render."""
