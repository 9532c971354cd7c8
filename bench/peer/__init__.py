"""The peer of issue 14's P1/P2: a minimal Django project serving django-helpdesk, whose
packages ``bench.peer_bench`` installs into a throwaway venv (``requirements.txt``)."""
