from outcomes.models.api_keys import APIKey
from outcomes.models.base import CompanyOwnedQuerySet
from outcomes.models.companies import Company, Membership
from outcomes.models.teams import Team, TeamMembership
from outcomes.models.users import User

__all__ = ["APIKey", "Company", "CompanyOwnedQuerySet", "Membership", "Team", "TeamMembership", "User"]
