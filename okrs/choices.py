from django.db import models


class CycleStatus(models.TextChoices):
    PLANNING = "planning", "Planning"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


OPEN_CYCLE_STATUSES = [(CycleStatus.PLANNING.value, "Planning"), (CycleStatus.ACTIVE.value, "Active")]


class ObjectiveLevel(models.TextChoices):
    COMPANY = "company", "Company"
    TEAM = "team", "Team"


class KeyResultKind(models.TextChoices):
    INCREASE_TO = "increase_to", "Increase to"
    DECREASE_TO = "decrease_to", "Decrease to"
    STAY_ABOVE = "stay_above", "Stay above"
    STAY_BELOW = "stay_below", "Stay below"
    MILESTONE = "milestone", "Milestone (done / not done)"


class Cadence(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    BIWEEKLY = "biweekly", "Every two weeks"
    MONTHLY = "monthly", "Monthly"


CADENCE_DAYS = {Cadence.WEEKLY: 7, Cadence.BIWEEKLY: 14, Cadence.MONTHLY: 30}


class CheckInSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    API = "api", "API"
    OUTCOME = "outcome", "Recorded outcome"
    SYNC = "sync", "Sync"


class Status(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    OFF_TRACK = "off_track", "Off track"


class GradeResult(models.TextChoices):
    ACHIEVED = "achieved", "Achieved"
    PARTLY = "partly", "Partly achieved"
    MISSED = "missed", "Missed"
    POSTPONED = "postponed", "Postponed"
