"""Events every service publishes on its own exchange ``onestop.<service>`` about its
own operation (not about the business), so that the archive keeps them too."""

from marshmallow import Schema, fields

from shared.events import register


class DeadLetterRedrivenV1(Schema):
    """``dead_letter.redriven`` v1 — a dead-lettered message put back on its queue after
    a fix, by whom; the consumer's inbox still applies the event at most once."""

    service = fields.String(required=True)
    queue = fields.String(required=True)
    dead_letter_id = fields.Integer(required=True)
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    demand_code = fields.String(load_default=None, allow_none=True)
    reason = fields.String(required=True, metadata={"description": "why it was dead-lettered"})
    attempts = fields.Integer(required=True)
    failed_at = fields.AwareDateTime(required=True, format="iso")
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


DEAD_LETTER_REDRIVEN = "dead_letter.redriven"
# Every service publishes it about itself, so it has no builder of one producer:
# shared.deadletters calls make_event with the re-driving service as the producer.
register(DEAD_LETTER_REDRIVEN, 1, DeadLetterRedrivenV1())


class AccessRefusedV1(Schema):
    """``access.refused`` v1 — a signed-in caller was refused (403): who, what, why. A
    security event the archive keeps for the audit administrator."""

    actor = fields.String(required=True)
    role = fields.String(required=True)
    service = fields.String(required=True)
    method = fields.String(required=True)
    path = fields.String(required=True)
    reason = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


ACCESS_REFUSED = "access.refused"
register(ACCESS_REFUSED, 1, AccessRefusedV1())
