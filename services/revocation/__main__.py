"""`python -m services.revocation`: run the revocation service until SIGTERM."""

from services.revocation.app import create_app
from services.revocation.settings import Settings
from services.runtime.process import run_service

if __name__ == "__main__":
    run_service(Settings, create_app)
