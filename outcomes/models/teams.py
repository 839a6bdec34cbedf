from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from outcomes.choices import TeamTopology
from outcomes.currencies import validate_currency
from outcomes.models.base import CompanyOwnedQuerySet, audit_history
from outcomes.models.companies import Company
from outcomes.models.users import User


class Team(models.Model):
    """A team of the company, typed after Team Topologies, with a lead and a monthly cost."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=120)
    topology = models.CharField(max_length=32, choices=TeamTopology.choices, default=TeamTopology.STREAM_ALIGNED)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="led_teams"
    )
    members: models.ManyToManyField[User, TeamMembership] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams"
    )
    monthly_cost = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    cost_currency = models.CharField(max_length=3, blank=True, default="", validators=[validate_currency])
    created = models.DateTimeField(auto_now_add=True)

    objects = CompanyOwnedQuerySet["Team"].as_manager()
    history = audit_history()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("company", Lower("name"), name="team_unique_name_per_company_ci"),
            models.CheckConstraint(
                condition=Q(monthly_cost__isnull=True, cost_currency="")
                | Q(monthly_cost__isnull=False) & ~Q(cost_currency=""),
                name="team_cost_has_currency",
            ),
            models.CheckConstraint(
                condition=Q(monthly_cost__isnull=True) | Q(monthly_cost__gte=0), name="team_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMembershipQuerySet(CompanyOwnedQuerySet["TeamMembership"]):
    company_path = "team__company"


class TeamMembership(models.Model):
    """A person on a team. Only members of the team's company can join it."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships")
    created = models.DateTimeField(auto_now_add=True)

    objects = TeamMembershipQuerySet.as_manager()
    history = audit_history()

    class Meta:
        ordering = ["team", "user__email", "id"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} on {self.team}"
