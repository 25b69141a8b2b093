"""Configuration dataclasses, one module per concern: every run's ``config.json`` is one of these, written as it
was used."""
