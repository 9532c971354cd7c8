"""``shared.views.OnestopBlueprint``: arguments validated by one schema made once."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from marshmallow import Schema, fields

from shared.views import OnestopBlueprint


class Made:
    count = 0


class ThingIn(Schema):
    name = fields.String(required=True)

    def __init__(self, *args, **kwargs):
        Made.count += 1
        super().__init__(*args, **kwargs)


def test_a_views_argument_schema_is_made_once_and_still_validates():
    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    blp = OnestopBlueprint("things", __name__)
    Made.count = 0

    @blp.route("/things", methods=["POST"])
    @blp.arguments(ThingIn)
    def post(data):
        return {"got": data["name"]}

    Api(app).register_blueprint(blp)
    made = Made.count
    client = app.test_client()
    for name in ("a", "b", "c"):
        assert client.post("/things", json={"name": name}).get_json() == {"got": name}
    assert client.post("/things", json={"name": "a", "extra": 1}).status_code == 422
    assert client.post("/things", json={}).status_code == 422
    assert Made.count == made == 1  # webargs would have made one per request
