"""Forms of the web pages. They only shape input; the domain services decide and validate the rest."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from epics.choices import Verdict
from epics.models import SuccessMetric
from outcomes.choices import Direction


def number(**options: Any) -> forms.DecimalField:
    """A decimal as wide as the models store (15 digits, 4 after the point)."""
    return forms.DecimalField(max_digits=15, decimal_places=4, **options)


class CheckInForm(forms.Form):
    value = number(help_text="The key result's value now.")
    confidence = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(1),
        max_digits=3,
        decimal_places=2,
        help_text="How likely the target is reached, from 0 to 1.",
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )
    comment = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class AnticipatedOutcomeForm(forms.Form):
    problem = forms.CharField(label="What problem are we solving?", widget=forms.Textarea(attrs={"rows": 3}))
    expected_results = forms.CharField(
        label="What results do we expect, and how will we measure them?", widget=forms.Textarea(attrs={"rows": 3})
    )
    learning_plan = forms.CharField(
        label="How and when will we learn, and what do we do if it misses?",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MetricForm(forms.Form):
    name = forms.CharField(max_length=200)
    unit = forms.CharField(max_length=40, required=False)
    # The first choice as initial too: a blank row left as rendered is unchanged, so it adds no metric.
    direction = forms.ChoiceField(choices=Direction.choices, initial=Direction.INCREASE)
    baseline = number()
    target = number()
    data_source = forms.CharField(max_length=500, required=False, label="Data source")
    window_days = forms.IntegerField(min_value=1, max_value=365, initial=30, label="Measure after (days)")


class BaseMetricFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        super().clean()
        if not any(form.cleaned_data and not form.cleaned_data.get("DELETE") for form in self.forms):
            raise forms.ValidationError("At least one success metric.")


# One empty row after the metrics (the form says so): how another metric is added.
MetricFormSet = forms.formset_factory(MetricForm, formset=BaseMetricFormSet, extra=1, min_num=1, can_delete=False)


def metric_rows(formset: Any) -> list[dict[str, Any]]:
    return [form.cleaned_data for form in formset.forms if form.cleaned_data]


class ResultForm(forms.Form):
    """One value (and its evidence) per success metric, and what was learned."""

    learnings = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="What we learned")
    next_steps = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="What we do next")
    verdict_override = forms.ChoiceField(
        choices=[("", "As the metrics say"), *Verdict.choices], required=False, label="Verdict"
    )
    override_reason = forms.CharField(required=False, max_length=5000, label="Why the verdict differs")

    def __init__(self, *args: Any, metrics: list[SuccessMetric], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics
        for metric in metrics:
            unit = f" ({metric.unit})" if metric.unit else ""
            self.fields[f"value_{metric.pk}"] = number(
                required=False,
                label=f"{metric.name}{unit}",
                help_text=f"Baseline {metric.baseline.normalize():f}, target {metric.target.normalize():f}. "
                "Leave empty when it could not be measured.",
            )
            self.fields[f"evidence_{metric.pk}"] = forms.URLField(
                required=False, max_length=500, label=f"Evidence for {metric.name}", assume_scheme="https"
            )

        measured = [name for name in self.fields if name.startswith(("value_", "evidence_"))]
        self.order_fields(measured)  # the values first, then what was learned and the verdict

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("verdict_override") and not (data.get("override_reason") or "").strip():
            self.add_error("override_reason", "Say why the verdict differs from the metrics.")
        return data

    def metric_values(self) -> list[dict[str, Any]]:
        return [
            {
                "metric": metric,
                "value": self.cleaned_data.get(f"value_{metric.pk}"),
                "evidence_url": self.cleaned_data.get(f"evidence_{metric.pk}") or "",
            }
            for metric in self.metrics
        ]
