"""The embedded default data: real clips curated from Debian packages (or a folder), mixed into
the isolated and overlapping sets with their annotations."""
