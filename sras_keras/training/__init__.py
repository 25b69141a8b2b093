"""Training entry points: SRAFBN super-resolution and the classifiers."""
