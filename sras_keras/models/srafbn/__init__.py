"""SRAFBN: SRFBN's feedback super-resolution network with SRAS-net's attention-weighted step losses."""
