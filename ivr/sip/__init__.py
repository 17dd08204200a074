"""SIP and RTP for the IVR node: a socket-free core, the transport, the media process.

- ``message``: a datagram parsed once into a typed ``SipRequest`` / ``SipResponse`` (round trip).
- ``sdp``: the caller's offer and the node's answer.
- ``registration``: REGISTER with digest as a state machine (requests from a ``RegisterBuilder``).
- ``transaction``: RFC 3261 timers and retransmission (Timers G/H, E/F).
- ``dialog``: one inbound call as a state machine (INVITE server transaction + dialog).
- ``uas``: the node's user agent: routes datagrams to calls, admission, returns actions.
- ``transport``: UDP socket (production) and in-memory pair (tests).
- ``media`` (process side) with ``reorder``, ``ipc``; ``media_client`` (node side); ``channel``.
- ``rtp``, ``g711``: packets and codecs as pure functions.
- ``adapter``: the node's loop and call threads; the only module that imports pyVoIP.
"""
