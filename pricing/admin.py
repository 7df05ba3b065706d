"""Custom prices for operators at /admin: they take precedence over the genai-prices table at once
for new spans; `manage.py reprice` applies them to spans already stored."""

from django.contrib import admin

from pricing.models import CustomPrice


@admin.register(CustomPrice)
class CustomPriceAdmin(admin.ModelAdmin):
    list_display = ["model", "provider", "input_per_mtok", "cached_input_per_mtok", "output_per_mtok", "valid_from",
                    "note", "updated_at"]
    search_fields = ["^model"]
    list_filter = ["provider"]
    ordering = ["model", "-valid_from"]
    fields = ["model", "provider", "input_per_mtok", "cached_input_per_mtok", "output_per_mtok", "valid_from", "note"]

    def message_user(self, request, message, *args, **kwargs):
        super().message_user(request, f"{message} New spans use it now; run `manage.py reprice` for stored ones.",
                             *args, **kwargs)
