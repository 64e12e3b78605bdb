"""Imported times keep the offset the user's zone had then, also across DST transitions."""

from __future__ import annotations

import time

import pytest

from delta_core.imports.text_input import LocalOffsets
from delta_core.records.record import local_utc_offset_minutes


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Australia/Lord_Howe", "America/New_York"])
def test_cached_offsets_equal_a_lookup_every_minute_around_transitions(monkeypatch, zone):
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        offsets = LocalOffsets()
        wrong = [
            s
            for s in range(1_600_000_000, 1_700_000_000, 3_607)  # about three years, hourly
            if offsets(s * 10**9) != local_utc_offset_minutes(s * 10**9)
        ]
        # each minute of the two days around Berlin's 2026 spring transition (01:00 UTC)
        wrong += [
            s
            for s in range(1_774_746_000 - 86_400, 1_774_746_000 + 86_400, 60)
            if offsets(s * 10**9) != local_utc_offset_minutes(s * 10**9)
        ]
        assert wrong == []
        assert len({offsets(s * 10**9) for s in range(1_600_000_000, 1_700_000_000, 86_400)}) > 1
    finally:
        monkeypatch.undo()
        time.tzset()
