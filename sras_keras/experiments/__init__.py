"""Named experiments (a paper table = rows of configs): their spec, the recipe registry, the runner, the report."""
