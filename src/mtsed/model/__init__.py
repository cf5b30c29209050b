"""The CRNN and how it learns: the network, distance encodings, losses, training, device choice."""
