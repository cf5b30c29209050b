"""Log-mel features (METHOD.md section 1): whole recordings, and streamed block by block for long files."""
