"""Storage behind a small interface (:class:`Store`); nothing outside this package builds SQL."""

from .store import AssessmentRecord, Store, UserRecord

__all__ = ["AssessmentRecord", "Store", "UserRecord"]
