"""The revocation service: Bitstring Status Lists per issuer, status changes, list publication."""
