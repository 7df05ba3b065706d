from django.apps import AppConfig


class PricingConfig(AppConfig):
    """Prices per model, custom prices, and the estimate of a span's cost."""

    name = "pricing"
    verbose_name = "Pricing"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from pricing.models import CustomPrice, custom_prices_changed

        post_save.connect(custom_prices_changed, sender=CustomPrice, dispatch_uid="msgtrace-custom-price-saved")
        post_delete.connect(custom_prices_changed, sender=CustomPrice, dispatch_uid="msgtrace-custom-price-deleted")
