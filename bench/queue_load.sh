#!/bin/sh
# Queue benchmark: callers bridged to SIPp agents' phones, callers waiting in the queue and
# IVR-only callers at once through Kamailio into one IVR node, beside the same run without
# bridging; one JSON line per run and a table. Arguments go to queue_load.py:
#   bench/queue_load.sh --bridged 100 --queued 100 --ivr 100 --hold 60 --rate 15
set -eu
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || true
exec .venv/bin/python bench/queue_load.py "$@"
