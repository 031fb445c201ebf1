"""What the staff API shares: role permissions from the auth groups, and errors as JSON per field."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from tenants.roles import is_owner


class RolePermissions(permissions.DjangoModelPermissions):
    """The admin's permissions, reading included: a role that may not view a model in the back office may
    not list it through the API either (§10.6). A POST action on an existing row (a view's `changes_rows`:
    check in, cancel) changes that row: it needs the change permission, not the add one."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if request.method == "POST" and getattr(view, "action", None) in getattr(view, "changes_rows", ()):
            if not (request.user and request.user.is_authenticated):
                return False
            return request.user.has_perms(self.get_required_permissions("PATCH", self._queryset(view).model))
        return super().has_permission(request, view)


class IsOwner(permissions.BasePermission):
    """§10.4, §10.5: a guest's export and anonymization are the owner's alone."""

    message = "Only the owner can do this."

    def has_permission(self, request, view) -> bool:
        return is_owner(request.user)


def exception_handler(exc, context):
    """A service's ValidationError (the words a host can act on) becomes a 400 with per-field messages. A
    request without (valid) credentials is a 401 that names the token scheme: DRF would answer 403, as the
    session scheme, listed first, has no challenge to send."""
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    response = drf_exception_handler(exc, context)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)) and response is not None:
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response["WWW-Authenticate"] = 'Token realm="api"'
    return response


def not_found(request, exception=None):
    """handler404: an unknown URL under /api/ answers JSON like the API's own 404s, not the HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
