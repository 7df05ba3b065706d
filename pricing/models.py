"""Custom prices: operators' own rates, which take precedence over the genai-prices table."""

from django.db import models
from django.db.models import F


class CustomPrice(models.Model):
    """A rate for one model name (self-hosted, fine-tuned, negotiated), in force from `valid_from`.

    Matched case-insensitively against the span's response model, then its request model, each also
    without a vendor prefix (`openai/gpt-4o` matches a price for `gpt-4o`)."""

    model = models.CharField(max_length=256, help_text="The model name as clients send it, e.g. my-llama-70b.")
    provider = models.CharField(
        max_length=128, blank=True, default="", help_text="Only spans of this provider; blank for any provider."
    )
    input_per_mtok = models.DecimalField("input, USD per million tokens", max_digits=14, decimal_places=6)
    cached_input_per_mtok = models.DecimalField(
        "cached input, USD per million tokens", max_digits=14, decimal_places=6, null=True, blank=True,
        help_text="Blank: cached input tokens cost as much as other input tokens.",
    )
    output_per_mtok = models.DecimalField("output, USD per million tokens", max_digits=14, decimal_places=6)
    valid_from = models.DateTimeField(
        null=True, blank=True, help_text="Spans that started before this are priced otherwise; blank: always."
    )
    note = models.CharField(max_length=256, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model", "-valid_from"]

    def __str__(self):
        return f"{self.model}: ${self.input_per_mtok} in / ${self.output_per_mtok} out per MTok"


class PriceTableVersion(models.Model):
    """One row whose number goes up whenever a custom price changes: every worker compares it with the
    number its in-memory copy was loaded at (one indexed read every few seconds) instead of reloading."""

    version = models.BigIntegerField(default=0)

    @classmethod
    def current(cls):
        return cls.objects.filter(pk=1).values_list("version", flat=True).first() or 0

    @classmethod
    def bump(cls):
        if not cls.objects.filter(pk=1).update(version=F("version") + 1):
            cls.objects.get_or_create(pk=1, defaults={"version": 1})


def custom_prices_changed(**_):
    from pricing import estimate

    PriceTableVersion.bump()
    estimate.custom_prices.forget()
