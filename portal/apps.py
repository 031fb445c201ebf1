from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Guest portal"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from portal.selectors import forget_domains
        from tenants.models import Domain, Tenant

        for model in (Domain, Tenant):
            for signal, name in ((post_save, "save"), (post_delete, "delete")):
                uid = f"portal.forget_domains.{name}.{model.__name__}"
                signal.connect(forget_domains, sender=model, dispatch_uid=uid)
