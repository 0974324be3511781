"""`python -m services.assessment`: run the assessment service until SIGTERM."""

from services.assessment.app import create_app
from services.assessment.settings import Settings
from services.runtime.process import run_service

if __name__ == "__main__":
    run_service(Settings, create_app)
