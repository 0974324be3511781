"""The QA service: the register of QA agencies and their signed attestations."""
