"""Dagster definitions for the batch side (assets, resources, schedules, sensors, checks)."""
