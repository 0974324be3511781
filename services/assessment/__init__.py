"""The assessment service: results in, achievement.earned out (once per learner and achievement)."""
