"""What every layer shares: errors, atomic file writes and locks, provenance, the run-folder file names."""
