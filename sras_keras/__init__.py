"""sras-keras: SRAS-net and two-step transfer learning for chromosome classification."""

__version__ = "0.1.0"
