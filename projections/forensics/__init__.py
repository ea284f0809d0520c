"""Forensics over the recorded events: state as of an instant, role history, comparison."""
