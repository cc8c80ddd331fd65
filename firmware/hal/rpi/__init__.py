"""hal/rpi layer of the firmware (see DESIGN.md for its import rules)."""
