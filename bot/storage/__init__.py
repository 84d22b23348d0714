"""Storage behind a small interface (:class:`Store`); nothing outside this package builds SQL."""

from .store import AssessmentRecord, DueReminder, PlanItem, Store, UserRecord

__all__ = ["AssessmentRecord", "DueReminder", "PlanItem", "Store", "UserRecord"]
