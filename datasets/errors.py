"""The errors this package raises: one type a caller catches to report a data problem cleanly."""

from __future__ import annotations


class DatasetError(Exception):
    """A data set cannot be read, found or verified; the message says which file and what to do."""


class FetchError(DatasetError):
    """A download failed on every mirror; the message names the URLs and the offline way round."""
