"""What the staff API shares: role permissions from the auth groups, and errors as JSON per field."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import permissions
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler


class RolePermissions(permissions.DjangoModelPermissions):
    """The admin's permissions, reading included: a role that may not view a model in the back office may
    not list it through the API either (§10.6)."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


def exception_handler(exc, context):
    """A service's ValidationError (the words a host can act on) becomes a 400 with per-field messages."""
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    return drf_exception_handler(exc, context)
