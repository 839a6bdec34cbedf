"""Tracker clients: each turns a tracker's API into pages of ``TrackerItem``."""
