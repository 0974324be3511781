"""The README's LMS examples, run through the adapters with the shipped deploy/config/lms.json:
they must stay valid and reach the seeded learner and activities."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from services.assessment.adapters.caliper import envelope_to_results
from services.assessment.adapters.lti import score_to_result
from services.assessment.adapters.xapi import statement_to_result
from services.assessment.lms import LmsDirectory

ROOT = Path(__file__).resolve().parents[3]
SEED_ACTIVITIES = {
    "https://lms.open-university.example/courses/dl101/quiz-1",
    "https://lms.open-university.example/courses/dl101/final-exam",
}


def test_readme_xapi_caliper_and_lti_examples_normalise_for_the_seeded_learner() -> None:
    readme = (ROOT / "README.md").read_text()
    bodies = [json.loads(b) for b in re.findall(r"-d '(\{.*?\})'", readme, re.DOTALL)]
    statement, envelope, score = (b for b in bodies if {"actor", "data", "userId"} & b.keys())
    line_item = re.search(r"lti/scores\?lineitem=([^']+)'", readme)
    assert line_item is not None
    directory = LmsDirectory.load(path=ROOT / "deploy" / "config" / "lms.json", inline=None)
    lms = directory.by_source("https://lms.open-university.example")
    assert directory.by_token("dev-lms-token-open-university-moodle") == lms

    x = statement_to_result(statement, lms, received_at=datetime.now(UTC)).result
    [c] = envelope_to_results(envelope, lms)
    lti = score_to_result(score, lms, line_item=line_item.group(1))
    assert lti is not None
    results = [x, c.result, lti.result]
    assert {r.learner.id for r in results} == {"learner-ada"}
    assert {r.issuer_id for r in results} == {"open-university"}
    assert {r.activity_id for r in results} == SEED_ACTIVITIES
