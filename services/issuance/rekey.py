"""KEK rotation: re-wrap every issuer's private key under the active key-encryption key.

    ISSUANCE_KEY_ENCRYPTION_KEY=<new> ISSUANCE_KEY_ENCRYPTION_KEY_ID=kek-2 \\
    ISSUANCE_PREVIOUS_KEY_ENCRYPTION_KEYS='{"kek-1": "<old>"}' python -m services.issuance.rekey

Reads the issuance service's settings from the environment (the same `ISSUANCE_` variables), opens
every stored key with the KEK it names and seals it again under the active one, in one
transaction: all keys move or none. Run it after every instance runs with the new KEK active and
the old one as previous; then remove the old KEK. Prints how many keys it re-wrapped, never a key.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from services.issuance import service
from services.issuance.repository import IssuanceRepository
from services.issuance.settings import Settings


async def rekey(settings: Settings) -> tuple[int, int]:
    conn = await asyncpg.connect(
        settings.database_url.get_secret_value(), server_settings={"search_path": settings.database_schema}
    )
    try:
        async with conn.transaction():
            return await service.rewrap_keys(repo=IssuanceRepository(conn), keyring=settings.keyring())
    finally:
        await conn.close()


def main() -> int:
    settings = Settings()
    rewrapped, unchanged = asyncio.run(rekey(settings))
    sys.stdout.write(
        f"re-wrapped {rewrapped} keys under KEK {settings.key_encryption_key_id}; "
        f"{unchanged} were already under it\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
