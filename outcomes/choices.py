from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EXECUTIVE = "executive", "Executive"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


ALL_ROLES = frozenset(Role.values)
MANAGERS = frozenset({Role.OWNER.value, Role.ADMIN.value})


class TeamTopology(models.TextChoices):
    """Team types from Team Topologies."""

    STREAM_ALIGNED = "stream_aligned", "Stream-aligned"
    PLATFORM = "platform", "Platform"
    ENABLING = "enabling", "Enabling"
    COMPLICATED_SUBSYSTEM = "complicated_subsystem", "Complicated subsystem"


class APIKeyScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


STRATEGY_EDITORS = frozenset({Role.OWNER.value, Role.ADMIN.value, Role.EXECUTIVE.value})


class SwotKind(models.TextChoices):
    STRENGTH = "strength", "Strength"
    WEAKNESS = "weakness", "Weakness"
    OPPORTUNITY = "opportunity", "Opportunity"
    THREAT = "threat", "Threat"


class StrategyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class OutcomeCategory(models.TextChoices):
    QUALITY = "quality", "Quality"
    TIME_TO_MARKET = "time_to_market", "Time to market"
    PRODUCTIVITY = "productivity", "Productivity"
    ENGAGEMENT = "engagement", "Engagement"
    REVENUE = "revenue", "Revenue"
    RETENTION = "retention", "Retention"
    CUSTOMER_SATISFACTION = "customer_satisfaction", "Customer satisfaction"
    COST = "cost", "Cost"
    OTHER = "other", "Other"


class Direction(models.TextChoices):
    """Which way a metric should move; the progress formula depends on it."""

    INCREASE = "increase", "Increase"
    DECREASE = "decrease", "Decrease"
    STAY_ABOVE = "stay_above", "Stay above"
    STAY_BELOW = "stay_below", "Stay below"


class MeasurementSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    API = "api", "API"
    IMPORT = "import", "Import"
    SYNC = "sync", "Sync"
