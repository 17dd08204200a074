"""The live queue's pure parts: agent presence and queue policy (no sockets, no pyVoIP)."""
