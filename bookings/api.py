"""Staff API for bookings: list, filter, detail, create, and the lifecycle actions, all through the services."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from atlas_guest.api import RolePermissions
from bookings import services
from bookings.lifecycle import stage_of
from bookings.models import ActionSource, Booking, BookingSource, BookingStatus, PaymentStatus
from intake.idempotency import HEADER, idempotent
from messaging.models import CommunicationLog
from tenants.roles import sees_money

MONEY = ("total_amount", "discount_amount", "final_amount", "amount_received", "payment_status")


def _owner_only_money():
    return serializers.DecimalField(max_digits=12, decimal_places=2, required=False,
                                    help_text="Present for the owner only (§10.6).")


class BookingSerializer(serializers.ModelSerializer):
    """A booking as staff read it (output only: writes go through BookingCreateSerializer and the actions).
    The amounts are declared `required=False` so that the published schema says what the API does: they are
    left out for every role but the owner."""

    guest_name = serializers.CharField(source="guest.name", read_only=True)
    listing_name = serializers.CharField(source="listing.name", read_only=True)
    property_name = serializers.CharField(source="listing.property.name", read_only=True)
    stage = serializers.SerializerMethodField()
    total_amount = _owner_only_money()
    discount_amount = _owner_only_money()
    final_amount = _owner_only_money()
    amount_received = _owner_only_money()
    payment_status = serializers.ChoiceField(choices=PaymentStatus.choices, required=False,
                                             help_text="Present for the owner only (§10.6).")

    class Meta:
        model = Booking
        fields = ("id", "guest", "guest_name", "listing", "listing_name", "property_name", "status", "source",
                  "external_reference", "contact_needed", "stage",
                  "checkin_date", "checkout_date", "guests_planned", *MONEY, "referral_code", "confirmed_at",
                  "checked_in_at", "checked_out_at", "created_at")
        read_only_fields = ("status", "external_reference", "contact_needed", "confirmed_at", "checked_in_at", "checked_out_at", "created_at")

    def get_stage(self, booking: Booking) -> str:
        return stage_of(booking, timezone.now(), completed_stays=0).value

    def to_representation(self, booking):
        data = super().to_representation(booking)
        request = self.context.get("request")
        if request is not None and not sees_money(request.user):
            for field in MONEY:  # §10.6: amounts are the owner's
                data.pop(field, None)
        return data


class BookingCreateSerializer(serializers.Serializer):
    """A new booking. The guest is either `guest` (an id) or given inline (`guest_name` with `guest_phone` and/or
    `guest_email`: a channel manager does not know our ids; a returning guest is found by phone, then email).
    A booking with neither phone nor email is "contact needed": the guest completes it through the portal link.
    `source` + `external_reference` is unique: the channel's retry of the same booking creates none."""

    guest = serializers.IntegerField(required=False)
    guest_name = serializers.CharField(required=False, max_length=200)
    guest_phone = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                        help_text="A mobile number; India (+91) unless it has a country code.")
    guest_email = serializers.EmailField(required=False, allow_blank=True)
    listing = serializers.IntegerField()
    checkin_date = serializers.DateField()
    checkout_date = serializers.DateField()
    guests_planned = serializers.IntegerField(min_value=1, max_value=50)
    total_amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    source = serializers.ChoiceField(choices=BookingSource.choices, default=BookingSource.DIRECT)
    external_reference = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                               help_text="The booking's id at its source (OTA, PMS, channel manager).")
    referral_code = serializers.CharField(required=False, allow_blank=True, max_length=20)
    confirm = serializers.BooleanField(default=True)

    def validate_guest_phone(self, value: str) -> str:
        if not value.strip():
            return ""
        from guests.phones import is_mobile, normalize_phone

        try:
            phone = normalize_phone(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        if not is_mobile(phone):
            raise serializers.ValidationError(f"“{value}” is not a mobile number: messages go by WhatsApp and SMS, "
                                              "which need one. Send a mobile, or the email alone.")
        return phone

    def validate(self, data):
        inline = [name for name in ("guest_name", "guest_phone", "guest_email") if data.get(name)]
        if "guest" in data and inline:
            raise serializers.ValidationError({"guest": ["Give either a guest id or the guest's name and contact, "
                                                         "not both."]})
        if "guest" not in data and "guest_name" not in data:
            raise serializers.ValidationError({"guest": ["Give the guest's id, or their name (guest_name) with a "
                                                         "phone or email."]})
        return data


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = CommunicationLog
        fields = ("id", "event_type", "recipient", "channel", "status", "attempt_count", "template_key",
                  "template_version", "created_at", "sent_at", "delivered_at", "read_at", "error_message")


class BookingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    serializer_class = BookingSerializer
    permission_classes = [RolePermissions]
    changes_rows = ("confirm", "cancel", "check_in", "check_out")  # POSTs that change a booking (RolePermissions)
    queryset = Booking.objects.select_related("guest", "listing__property").order_by("-checkin_date", "-id")

    def get_serializer_class(self):
        return BookingCreateSerializer if self.action == "create" else BookingSerializer

    @extend_schema(parameters=[
        OpenApiParameter("status", str, enum=BookingStatus.values), OpenApiParameter("source", str, enum=BookingSource.values),
        OpenApiParameter("guest", int), OpenApiParameter("checkin_from", str), OpenApiParameter("checkin_to", str),
    ])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if params.get("status") in BookingStatus.values:
            queryset = queryset.filter(status=params["status"])
        if params.get("source") in BookingSource.values:
            queryset = queryset.filter(source=params["source"])
        if params.get("guest", "").isdigit():
            queryset = queryset.filter(guest_id=int(params["guest"]))
        date_field = serializers.DateField()
        for name, lookup in (("checkin_from", "checkin_date__gte"), ("checkin_to", "checkin_date__lte")):
            if params.get(name):
                try:
                    queryset = queryset.filter(**{lookup: date_field.to_internal_value(params[name])})
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError({name: exc.detail}) from None  # per field, like the rest
        return queryset

    @extend_schema(
        parameters=[OpenApiParameter(
            HEADER, str, OpenApiParameter.HEADER, required=False,
            description="Makes a retry safe (Stripe's semantics): the same key and body within 24 hours get the "
                        "first response again, with `Idempotent-Replayed: true`; the same key with another body "
                        "gets 422. A refused request (400) stores nothing.")],
        responses={
            201: OpenApiResponse(BookingSerializer, description="Created."),
            200: OpenApiResponse(BookingSerializer, description="This source's reference was booked already with "
                                                                "these dates: that booking (a retry)."),
            409: OpenApiResponse(OpenApiTypes.OBJECT, description="This source's reference is another stay: "
                                                                  "`booking` is its id."),
            422: OpenApiResponse(OpenApiTypes.OBJECT, description="The Idempotency-Key was used for another "
                                                                  "request."),
        },
    )
    def create(self, request, *args, **kwargs):
        incoming = BookingCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        return idempotent(request, lambda: self._create(request, dict(incoming.validated_data)))

    def _create(self, request, data: dict) -> Response:
        """201 with the new booking; 200 with the existing one when the source's reference brought the same stay
        again (a retry without a key); 409 when that reference is a different stay."""
        confirm = data.pop("confirm")
        listing = self._related("listing", data.pop("listing"))
        existing = services.existing_external_booking(data.get("source", BookingSource.DIRECT),
                                                      data.get("external_reference", ""), listing.pk)
        if existing is None:
            try:
                with transaction.atomic():  # a guest made for a booking that is then refused goes with it
                    data["guest"] = self._guest(data)
                    if not data.get("referral_code"):
                        data.pop("referral_code", None)
                    booking = services.create_booking(listing=listing, confirm=confirm, **data)
                    if booking.contact_needed:
                        from portal.services import issue_portal_token

                        issue_portal_token(booking)  # the link the host sends the guest, at once
            except services.DuplicateBooking as exc:  # a concurrent request stored it first
                existing = exc.existing
            else:
                return Response(BookingSerializer(booking, context={"request": request}).data, status=201)
        body = BookingSerializer(existing, context={"request": request}).data
        if (existing.listing_id, existing.checkin_date, existing.checkout_date) == (
                listing.pk, data["checkin_date"], data["checkout_date"]):
            return Response(body, status=200)
        return Response({"external_reference": [
            f"Booking #{existing.pk} already has the {existing.source} reference “{existing.external_reference}”, "
            f"for {existing.checkin_date:%d %b %Y}–{existing.checkout_date:%d %b %Y} at {existing.listing.name}. "
            "Move that booking's dates, or send another reference."], "booking": existing.pk}, status=409)

    def _guest(self, data: dict):
        """The guest of a new booking: by id, or found/created from the inline name, phone and email."""
        if "guest" in data:
            return self._related("guest", data.pop("guest"))
        from guests.services import find_or_create_guest

        name, phone, email = (data.pop(f"guest_{part}", "") for part in ("name", "phone", "email"))
        data["contact_needed"] = not (phone or email)
        guest, _created = find_or_create_guest(name=name, phone=phone, email=email)
        return guest

    @staticmethod
    def _related(field: str, pk: int):
        from bookings.models import Listing
        from guests.models import Guest

        model = Guest if field == "guest" else Listing
        found = model.objects.filter(pk=pk).first()
        if found is None:
            raise serializers.ValidationError({field: f"No {field} with id {pk}."})
        return found

    def _act(self, request, perform) -> Response:
        booking = self.get_object()
        result = perform(booking)
        booking = result[0] if isinstance(result, tuple) else result
        return Response(BookingSerializer(booking, context={"request": request}).data)

    @extend_schema(request=None, responses=BookingSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        return self._act(request, services.confirm_booking)

    @extend_schema(request=None, responses=BookingSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(request, services.cancel_booking)

    @extend_schema(request=None, responses=BookingSerializer)
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        return self._act(request, lambda b: services.check_in_guest(b, via=ActionSource.STAFF))

    @extend_schema(request=None, responses=BookingSerializer)
    @action(detail=True, methods=["post"], url_path="check-out")
    def check_out(self, request, pk=None):
        return self._act(request, lambda b: services.check_out_guest(b, via=ActionSource.STAFF))

    @extend_schema(responses=MessageSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)  # a booking has a handful: one page
    def messages(self, request, pk=None):
        if not request.user.has_perm("messaging.view_communicationlog"):
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied("Message logs are for managers and owners.")  # §10.6
        logs = CommunicationLog.objects.filter(booking=self.get_object()).order_by("created_at")
        return Response(MessageSerializer(logs, many=True).data)
