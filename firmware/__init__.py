"""SIP desk-phone firmware: a sans-IO SIP/RTP core with thin runtime shells."""

__version__ = "0.1.0"
