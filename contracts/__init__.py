"""credstream's wire contracts: one versioned package of event models, with no I/O.

Every event that crosses Kafka is defined here, once. JSON Schema and the AsyncAPI document in
`contracts/schemas/` and `contracts/asyncapi/` are generated from these models by
`python -m contracts.export` and checked for drift by the test suite.
"""

__version__ = "1.1.0"
