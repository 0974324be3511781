"""The thin shared runtime: infrastructure every service needs, and no domain words."""
