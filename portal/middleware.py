"""The tenant of the request's domain, as django-tenants' TenantMainMiddleware finds it, with a lean path for
the guest portal (NFR 3: its page is the one under load): on `/guest/...` the domain is looked up with one
prepared, schema-qualified statement (portal.selectors.tenant_for_domain) instead of the ORM query and the
two `SET search_path` around it, and remembered for a minute; the page's own statement confirms it
(portal.selectors.page_for_link). What follows is the same: the tenant on the request and the connection,
the tenant's URLs, and the 404 for an unknown domain."""
from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpResponseNotFound
from django_tenants.middleware.main import TenantMainMiddleware

from portal.selectors import tenant_for_domain

PORTAL_PREFIX = "/guest/"


class TenantMiddleware(TenantMainMiddleware):
    def process_request(self, request):
        if not request.path_info.startswith(PORTAL_PREFIX):
            return super().process_request(request)
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return HttpResponseNotFound()
        tenant = tenant_for_domain(hostname)
        if tenant is None:
            connection.set_schema_to_public()
            return self.no_tenant_found(request, hostname)
        request.tenant = tenant  # its domain_url is the hostname
        # The search path is set only when an ORM cursor is next opened; the portal's page needs none.
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
