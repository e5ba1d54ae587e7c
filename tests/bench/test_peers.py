"""Parts of the peer benchmarks: matching a windowed-count update to the event that made
it (freshness peers), and the HTTP floor's timeline bodies (API peers). No timing asserted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from bench import streams_bench
from bench.api_peers_bench import floor_app, timeline_bodies
from bench.freshness_peers_bench import WINDOW_MS, Tracker, measure_peer
from infra.procs import free_port


def test_tracker_matches_each_update_to_its_event() -> None:
    tracker = Tracker()
    hour = 10 * WINDOW_MS
    tracker.sent("a", hour + 5, at=1.0)  # a's window: count 1
    tracker.timing = True
    tracker.sent("a", hour + 7, at=2.0)  # count 2, same window
    tracker.sent("b", hour + 9, at=2.5)  # b: count 1
    tracker.sent("a", hour + WINDOW_MS + 1, at=3.0)  # the next hour: a's count starts at 1

    tracker.timing = False
    tracker.seen("a", {"start": hour, "value": 1}, at=1.5)  # the warm-up event
    assert tracker.warm == 1 and tracker.latencies == []
    tracker.timing = True
    tracker.seen("a", {"start": hour, "value": 2}, at=2.25)
    tracker.seen("a", {"start": hour, "value": 2}, at=2.5)  # repeated: not counted twice
    tracker.seen("a", {"start": hour + WINDOW_MS, "value": 1}, at=3.5)
    assert tracker.latencies == [250.0, 500.0]
    assert list(tracker.pending) == [("b", hour, 1)]  # b's update never came


def test_floor_bodies_have_the_shape_and_size_of_our_timeline() -> None:
    bodies = timeline_bodies(600, limit=2)  # 3 events for each of 200 customers, 2 answered
    assert len(bodies) == streams_bench.FRESH_CUSTOMERS
    _, cid = streams_bench.freshness_event(0)
    doc = json.loads(bodies[cid])
    assert doc["customer_id"] == cid
    assert doc["total_events"] == 3
    # Newest first: customer 0's events are 0, 200 and 400.
    assert [e["event_id"] for e in doc["events"]] == ["fresh-400", "fresh-200"]
    assert doc["events"][0]["customer_id"] == cid
    assert sum(len(c["event_ids"]) for c in doc["conversations"]) == 2


def test_floor_app_answers_the_stored_body() -> None:
    bodies = {"cus_1": b'{"customer_id": "cus_1"}'}
    with TestClient(floor_app(bodies)) as client:
        r = client.get("/v1/customers/cus_1/timeline?limit=50")
        assert r.status_code == 200 and r.content == bodies["cus_1"]
        assert client.get("/v1/customers/cus_2/timeline").status_code == 404


def test_a_failed_drive_stops_the_peer_process() -> None:
    # No broker on that port: the drive fails, and the peer (which would run for 10 minutes,
    # as a faust worker runs until stopped) must not be left behind.
    marker = f"peer-{uuid.uuid4().hex}"
    argv = [sys.executable, "-c", "import time, sys; time.sleep(600)", marker]
    with pytest.raises(RuntimeError, match="sleeper"):
        measure_peer("sleeper", argv, f"127.0.0.1:{free_port()}", ("in", "out"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 1:
            break
        time.sleep(0.2)
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 1
