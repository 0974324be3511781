"""`python -m services.issuance`: run the issuance service until SIGTERM."""

from __future__ import annotations

import asyncio

from services.issuance.app import create_app
from services.issuance.settings import Settings
from services.runtime.telemetry import setup_telemetry


async def main() -> None:
    settings = Settings()
    setup_telemetry(settings)
    host = await create_app(settings)
    await host.run_until_signalled()


if __name__ == "__main__":
    asyncio.run(main())
