"""credstream's services. Each is a small package; they share only `contracts` and `runtime`."""
