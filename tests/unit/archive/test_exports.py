"""The streaming export: checked and scoped before the first byte, then every matching
record oldest first, redacted, in keyset batches (fake unit of work)."""

import csv
import io
import json

import pytest

from services.archive import exports
from services.archive.exports import CSV_COLUMNS, export, export_rows
from shared.usecases import Forbidden, Invalid
from tests.fakes import actor


def test_jsonl_is_every_record_oldest_first_without_confidential_content(uow, ten_demands):
    lines = list(export(uow, actor("district", "630102"), {"format": "jsonl"}))
    assert len(lines) == 10 and all(line.endswith("\n") for line in lines)
    envelopes = [json.loads(line) for line in lines]
    assert [e["event_id"] for e in envelopes] == [e.event_id for e in ten_demands]
    first = envelopes[0]
    assert "title" not in first["payload"] and "description" not in first["payload"]
    assert first["payload"]["redacted"] == ["description", "title"]
    assert set(first["archive"]) == {"seq", "hash"}


def test_csv_is_a_header_and_a_line_per_record(uow, ten_demands):
    text = "".join(export(uow, None, {"format": "csv", "demand": "630102-2026-000003"}))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == CSV_COLUMNS and len(rows) == 2
    line = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert line["demand_code"] == "630102-2026-000003" and line["staff_id"] == ""
    assert line["credit_code"] == "91630102MA7522T5X6"
    payload = json.loads(line["payload"])
    assert "description" not in payload and payload["redacted"] == ["description", "title"]


def test_jsonl_is_the_default_and_nothing_matching_is_an_empty_stream(uow, ten_demands):
    assert len(list(export(uow, None, {}))) == 10
    assert list(export(uow, None, {"demand": "nothing-like-it"})) == []


def test_the_records_are_read_in_keyset_batches(uow, ten_demands, monkeypatch):
    monkeypatch.setattr(exports, "BATCH", 3)
    reads = []
    read = uow.read

    def counted():
        reads.append(1)
        return read()

    monkeypatch.setattr(uow, "read", counted)
    rows = export_rows(uow, None, {})
    assert len(reads) == 1  # the first batch is read when called, before any row is taken
    seqs = [r.seq for r in rows]
    assert seqs == sorted(seqs) and len(seqs) == 10
    assert len(reads) == 5  # 3 + 3 + 3 + 1, and the empty read that ends it


@pytest.mark.parametrize(
    "args, refusal, fields",
    [
        ({"format": "xml"}, Invalid, {"query": {"format": ["one of jsonl, csv"]}}),
        (
            {"jurisdiction": "630104"},
            Forbidden,
            {"query": {"jurisdiction": ["outside your jurisdiction"]}},
        ),
    ],
)
def test_a_refusal_comes_when_called_before_any_byte(uow, ten_demands, args, refusal, fields):
    with pytest.raises(refusal) as refused:
        export(uow, actor("district", "630102"), args)
    assert refused.value.fields == fields


def test_a_range_that_ends_before_it_starts_is_refused(uow, t0):
    with pytest.raises(Invalid) as refused:
        export(uow, None, {"from": t0, "to": t0})
    assert refused.value.fields == {"query": {"to": ["not after from"]}}
