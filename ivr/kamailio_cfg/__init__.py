"""The embedded Kamailio configuration template, shipped as package data (see ivr/kamailio.py)."""
