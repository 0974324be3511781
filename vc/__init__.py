"""Verifiable credentials: Data Integrity EdDSA proofs, offline JSON-LD, RDFC-1.0, keys."""
