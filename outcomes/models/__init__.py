from outcomes.models.api_keys import APIKey
from outcomes.models.base import CompanyOwnedQuerySet
from outcomes.models.business_outcomes import BusinessOutcome, Measurement
from outcomes.models.companies import Company, Membership
from outcomes.models.identity import IdentityVersion
from outcomes.models.strategy import Investment, Strategy, SwotItem
from outcomes.models.teams import Team, TeamMembership
from outcomes.models.users import User

__all__ = [
    "APIKey",
    "BusinessOutcome",
    "Company",
    "CompanyOwnedQuerySet",
    "IdentityVersion",
    "Investment",
    "Measurement",
    "Membership",
    "Strategy",
    "SwotItem",
    "Team",
    "TeamMembership",
    "User",
]
