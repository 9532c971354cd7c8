"""Scoring's domain: pure rules, facts in and decisions out (no Flask, SQLAlchemy or kombu).

* ``facts``      — which month and A.1 item an event counts towards; the scoring periods;
* ``table``      — table A.1 as data (the default rule set) and the inputs it may name;
* ``validation`` — a rule set's consistency (caps, weights, targets), problem by problem;
* ``evaluation`` — a unit's inputs → each item's points, part subtotals, total; ranks;
* ``records``    — the manual records no event carries, and their bounds;
* ``scorecard``  — a unit's inputs tallied from its facts; its card among its peers;
* ``kpis``       — a jurisdiction's KPIs computed from the facts its queries gathered.
"""
