"""The issuance service: issuers, achievements, signed Open Badges 3.0 micro-credentials."""
