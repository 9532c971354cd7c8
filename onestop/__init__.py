"""The runtime that starts, wires and seeds the whole platform: the ``onestop`` command
line, the embedded runner, the production shape on one machine (stack runner and local
servers), migrations, rebuilds, the broker topology and the demo data.

It knows every service; ``shared/`` (the library every service imports) imports none.
"""
