#!/bin/sh
# SIP load benchmark: ramp concurrent calls (menu 1, 30 s speech, #, hang-up) through Kamailio
# into one IVR node on this machine; prints one JSON line per step. Arguments go to sip_load.py:
#   bench/sip_load.sh --steps 50,100,150,200 --hold 30 --max-calls 200 --overload 20
set -eu
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || true
exec .venv/bin/python bench/sip_load.py "$@"
