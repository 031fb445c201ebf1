"""The email unsubscribe page (§10.7): signed link, no login; the guest confirms with one tap."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from guests.models import ConsentChannel, ConsentSource, ConsentStatus
from guests.services import set_consent
from messaging.consent import read_unsubscribe_token
from tenants.current import current_tenant


@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    guest_id = read_unsubscribe_token(token)
    context = {"host_name": current_tenant().host_name}
    if guest_id is None:
        return render(request, "messaging/unsubscribe.html", {**context, "invalid": True}, status=404)
    if request.method == "POST":
        set_consent(guest_id, ConsentChannel.EMAIL, ConsentStatus.REVOKED, source=ConsentSource.EMAIL_UNSUBSCRIBE,
                    ip_address=request.META.get("REMOTE_ADDR"))
        return render(request, "messaging/unsubscribe.html", {**context, "done": True})
    # A GET only asks: mail scanners open links, and must not unsubscribe anyone.
    return render(request, "messaging/unsubscribe.html", context)
