"""`python -m services.assessment`: run the assessment service until SIGTERM."""

from __future__ import annotations

import asyncio

from services.assessment.app import create_app
from services.assessment.settings import Settings
from services.runtime.telemetry import setup_telemetry


async def main() -> None:
    settings = Settings()
    setup_telemetry(settings)
    host = await create_app(settings)
    await host.run_until_signalled()


if __name__ == "__main__":
    asyncio.run(main())
