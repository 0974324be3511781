"""The `credstream` operator CLI and the LMS simulator it drives (docs/cli.md)."""
