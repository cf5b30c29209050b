"""Log-mel features (SPEC section 3): whole recordings, and streamed block by block for long files."""
