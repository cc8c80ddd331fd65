"""Simulated hardware: the board's wiring modelled in Python, with a back door.

Rule: firmware code reaches this package only through ``make_backend(board)``,
called by the runtime with the name from the board file; tests and the
simulator may also use the back door on the returned ``SimBackend``.
"""

from firmware.hal.sim.backend import SimBackend, make_backend

__all__ = ["SimBackend", "make_backend"]
