"""Training, evaluation and persistence of classifiers (driver side)."""
