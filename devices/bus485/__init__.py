"""RS-485 hall peripherals (call pad, window display, rating pad) on one Modbus RTU bus."""
