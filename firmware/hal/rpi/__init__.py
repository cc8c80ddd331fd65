# Runs on CPython only, on the board itself (RPi.GPIO, pyserial); layercheck knows hal/rpi/.
"""Raspberry Pi hardware: RPi.GPIO for the pins, pyserial for the display line.

Rule: firmware code reaches this package only through ``make_backend(board)``,
called by the runtime because the board file says ``"backend": "rpi"``; nothing
imports it on a laptop or in CI, where RPi.GPIO refuses to load.
"""

from firmware.hal.rpi.backend import RpiBackend, make_backend

__all__ = ["RpiBackend", "make_backend"]
