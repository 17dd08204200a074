"""A node stopping cleanly takes its heartbeat out before its services close (issue 13): the
stop waits for the heartbeat thread's leave. Before, the leave ran while the node closed its
Redis client ("I/O operation on closed file", seen on CI) and the node stayed "stopped" in
the reconciler's eyes."""

from __future__ import annotations

import time
from unittest import mock

from ivr.node import start_heartbeat
from ticketing.container import Services
from ticketing.node_liveness import NodeLiveness


def test_the_heartbeat_is_out_when_the_stop_returns(services: Services) -> None:
    liveness = services.node_liveness
    leave = NodeLiveness.leave

    def slow_leave(self: NodeLiveness, node: str) -> None:
        time.sleep(0.3)  # a Redis round trip on a loaded host
        leave(self, node)

    with mock.patch.object(NodeLiveness, "leave", slow_leave):
        stop = start_heartbeat(services, "node-stopping")
        deadline = time.monotonic() + 10
        while liveness.nodes() != {"node-stopping": True}:
            assert time.monotonic() < deadline, "the node never beat"
            time.sleep(0.02)
        stop()
        assert liveness.nodes() == {}  # at once: neither alive nor stopped
