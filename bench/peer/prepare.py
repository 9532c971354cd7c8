"""Migrate the peer's database and make what its API needs: a staff user with a DRF
token and one queue. Idempotent. Prints ``{"token": …, "queue": …}`` as JSON.

Run by ``bench.peer_bench`` with the peer's venv python::

    DJANGO_SETTINGS_MODULE=bench.peer.settings PEER_DB_PORT=… python -m bench.peer.prepare
"""

import json
import os

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peer.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from helpdesk.models import Queue
    from rest_framework.authtoken.models import Token

    call_command("migrate", interactive=False, verbosity=0)
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    token, _ = Token.objects.get_or_create(user=user)
    queue, _ = Queue.objects.get_or_create(
        slug="bench", defaults={"title": "Bench", "allow_public_submission": False}
    )
    print(json.dumps({"token": token.key, "queue": queue.pk}))


if __name__ == "__main__":
    main()
