"""Input adapters: pure functions from an LMS's own payload (xAPI, Caliper, LTI AGS) to
credstream's assessment-result contract. No I/O; every refusal is an `IngestRejected` with a
reason code."""
