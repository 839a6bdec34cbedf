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
