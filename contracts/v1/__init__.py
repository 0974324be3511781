"""Version 1 of credstream's event payloads."""
