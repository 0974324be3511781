"""`python -m services.qa`: run the QA service until SIGTERM."""

from services.qa.app import create_app
from services.qa.settings import Settings
from services.runtime.process import run_service

if __name__ == "__main__":
    run_service(Settings, create_app)
