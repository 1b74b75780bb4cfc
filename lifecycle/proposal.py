"""A pilot proposal: what is tried, who owns it, and how success is judged, written down first.

The organisations that escaped pilot purgatory fixed success metrics (baseline and target) and
readiness criteria before a pilot began and gave every pilot a business owner with budget
authority. A proposal without them is not accepted.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lifecycle.errors import InputError, parse_yaml_text, read_source, validate_model
from lifecycle.policy import SLACK_USER_ID, Policy, RiskTier


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _slack_id(value: str) -> str:
    if not SLACK_USER_ID.match(value):
        raise ValueError(f"{value!r} is not a Slack user id (like U0123ABCD)")
    return value


class Person(Strict):
    name: str = Field(min_length=1)
    slack_id: str

    @field_validator("slack_id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        return _slack_id(value)


class BusinessOwner(Person):
    #: the budget this owner controls for the pilot, in the organisation's currency.
    budget: Decimal = Field(gt=0)
    currency: str = Field(default="USD", min_length=3, max_length=3)


class SuccessMetric(Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    unit: str = Field(min_length=1)
    baseline: float
    target: float
    better: Literal["lower", "higher"]
    description: str | None = None
    #: for the value estimate: how many times a year the improvement applies (e.g. tickets/year).
    volume_per_year: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _direction(self) -> SuccessMetric:
        if self.better == "lower" and not self.target < self.baseline:
            raise ValueError(
                f"target {self.target} must be below baseline {self.baseline} when lower is better"
            )
        if self.better == "higher" and not self.target > self.baseline:
            raise ValueError(
                f"target {self.target} must be above baseline {self.baseline} when higher is better"
            )
        return self


class ReadinessCriteria(Strict):
    technical: list[str] = Field(min_length=1)
    operational: list[str] = Field(min_length=1)
    business_case: str = Field(min_length=1)


class Proposal(Strict):
    title: str = Field(min_length=3, max_length=120)
    problem: str = Field(min_length=1)
    portfolio: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    risk_tier: RiskTier
    customer_facing: bool = False
    proposer: Person
    business_owner: BusinessOwner
    technical_lead: Person
    operations_owner: Person | None = None
    success_metrics: list[SuccessMetric] = Field(min_length=1)
    readiness_criteria: ReadinessCriteria
    pilot_duration_days: int = Field(ge=14)
    #: extra reviews this pilot needs at readiness review and customer rollout (policy roles).
    reviews: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _separate_operations_owner(self) -> Proposal:
        owner = self.operations_owner
        if owner is not None and owner.slack_id == self.business_owner.slack_id:
            raise ValueError(
                "operations_owner must be a different person from the business_owner "
                "(production needs its own operations owner)"
            )
        return self

    @field_validator("success_metrics")
    @classmethod
    def _unique_metrics(cls, value: list[SuccessMetric]) -> list[SuccessMetric]:
        names = [m.name for m in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metric names must be unique; repeated: {', '.join(dupes)}")
        return value

    def metric(self, name: str) -> SuccessMetric | None:
        return next((m for m in self.success_metrics if m.name == name), None)

    def check_against(self, policy: Policy, source: str) -> None:
        """Rules that need the policy: duration limit and review roles."""
        problems = []
        limit = policy.portfolio.deploy_or_terminate_days
        if self.pilot_duration_days > limit:
            problems.append(
                f"pilot_duration_days: {self.pilot_duration_days} is above the "
                f"deploy-or-terminate limit of {limit} days"
            )
        for i, role in enumerate(self.reviews):
            if role not in policy.roles:
                problems.append(
                    f"reviews[{i}]: unknown role {role!r} (roles defined: "
                    f"{', '.join(sorted(policy.roles))})"
                )
        if problems:
            raise InputError(source, problems)


def parse_proposal(text: str, source: str = "proposal") -> Proposal:
    return validate_model(Proposal, parse_yaml_text(text, source), source)


def load_proposal(path: str | Path) -> Proposal:
    return parse_proposal(*read_source(path))
