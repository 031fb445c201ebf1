"""The one error of reading a calendar link: its message is what the host reads in the admin."""
from __future__ import annotations


class FeedError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
