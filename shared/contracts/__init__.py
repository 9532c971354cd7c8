"""Published event contracts, one module per producing service.

Importing this package registers every (event_type, version) payload schema.
The AsyncAPI document (``docs/asyncapi.yaml``) describes the same catalogue.
"""

from shared.contracts import directory, dispatch, intake, operations, scoring, visits

__all__ = ["directory", "dispatch", "intake", "operations", "scoring", "visits"]
