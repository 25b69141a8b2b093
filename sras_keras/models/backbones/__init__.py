"""The backbone architectures; ``catalog`` registers each of them."""
