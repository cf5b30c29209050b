"""From network outputs to events: outputs over a recording, post-processing, decoders,
threshold search, the detector bundle, and detection over many files."""
