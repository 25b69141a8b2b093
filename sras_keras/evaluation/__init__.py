"""Metrics, statistics and figures."""
