"""The baseline: a bare Flask endpoint that parses a JSON body and returns JSON."""

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask("bare")

    @app.post("/api/v1/demands")
    def echo():  # the same request as intake gets, without any work behind it
        body = request.get_json()
        return jsonify({"code": "630102-2026-000000", "title": body.get("title")}), 201

    return app
