"""Property-based tests (hypothesis) on intake's rules and schemas."""

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from services.intake.calendar import CHINA, WorkingCalendar
from services.intake.lifecycle import STATES, LifecycleError, transition
from services.intake.schemas import DemandIn, EnterpriseProfileIn, TransitionIn
from shared.creditcodes import CREDIT_CHARSET, credit_check_char, credit_code_error

first17 = st.text(alphabet=CREDIT_CHARSET, min_size=17, max_size=17)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first17)
def test_a_code_with_its_check_character_is_valid_and_any_other_is_not(body):
    good = body + credit_check_char(body)
    assert credit_code_error(good) is None
    for c in CREDIT_CHARSET:
        if c != good[-1]:
            assert "check character" in credit_code_error(body + c)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "enterprise",
                "category",
                "title",
                "description",
                "source",
                "jurisdiction",
                "contact",
                "consent_to_share",
                "complexity",
                "service_item",
                "extra",
            ]
        ),
        json_values,
    )
)
def test_any_json_body_is_either_loaded_or_refused_field_by_field(body):
    for schema in (DemandIn(), EnterpriseProfileIn(), TransitionIn()):
        try:
            schema.load(body)
        except ValidationError as exc:
            assert isinstance(exc.messages, dict) and exc.messages


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC)
    ),
    st.integers(min_value=0, max_value=25),
)
def test_a_deadline_is_the_nth_working_day_end(start, n):
    cal = WorkingCalendar()
    d = cal.deadline(start, n)
    local = start.astimezone(CHINA)
    # the counting starts on the day of receipt, or the next one after hours (18:00)
    first = local.date() + timedelta(days=1 if local.hour >= 18 else 0)
    day = first
    due = d.due.astimezone(CHINA).date()
    assert due >= day and cal.is_workday(due)[0]
    assert d.due > start  # never overdue the moment it is received
    # exactly n working days after the first working day on or after the counting day
    while not cal.is_workday(day)[0]:
        day += timedelta(days=1)
    between = sum(
        cal.is_workday(day + timedelta(days=i))[0] for i in range(1, (due - day).days + 1)
    )
    assert between == n
    assert d.provisional == any(
        cal.is_workday(first + timedelta(days=i))[1] for i in range((due - first).days + 1)
    )


@given(
    st.lists(
        st.tuples(
            st.sampled_from(STATES),
            st.sampled_from([None, "solved", "unsolvable"]),
            st.sampled_from(["", "a note"]),
        ),
        max_size=20,
    )
)
def test_no_sequence_of_requests_leaves_the_loop(steps):
    status = "accepted"
    for target, resolution, note in steps:
        try:
            t = transition(status, target, note, resolution)
        except LifecycleError:
            continue
        assert t.from_status == status
        if t.to_status == "closed":
            assert t.resolution in ("solved", "unsolvable")
            assert t.resolution == "solved" or t.note
        status = t.to_status
    assert status in STATES
