"""SIP transport for the IVR: pure SIP/RTP/G.711 helpers plus the pyVoIP adapter (``adapter``).

Only ``ivr.sip.adapter`` imports pyVoIP; everything else here is pure Python/numpy and socket code.
"""
