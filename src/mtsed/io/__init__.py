"""Reading and writing what the pipeline touches: audio files, event lists, atomic files, progress bars."""
