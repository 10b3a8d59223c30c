"""Sample-quality and mode-coverage metrics."""
