from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Guest portal"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from portal.selectors import forget_domains
        from tenants.models import Domain, Tenant

        for model in (Domain, Tenant):
            post_save.connect(forget_domains, sender=model, dispatch_uid=f"portal.forget_domains.save.{model.__name__}")
            post_delete.connect(forget_domains, sender=model, dispatch_uid=f"portal.forget_domains.delete.{model.__name__}")
