"""`python -m services.issuance`: run the issuance service until SIGTERM."""

from services.issuance.app import create_app
from services.issuance.settings import Settings
from services.runtime.process import run_service

if __name__ == "__main__":
    run_service(Settings, create_app)
