"""Data sets and what training reads from them: recordings and splits, triplet targets, training windows, augmentation.

``data.default`` builds the embedded default data: real clips to isolated and overlapping mixtures."""
