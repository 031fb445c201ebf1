"""Staff API for bookings: list, filter, detail, create, and the lifecycle actions, all through the services."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from atlas_guest.api import RolePermissions
from bookings import services
from bookings.lifecycle import stage_of
from bookings.models import ActionSource, Booking, BookingSource, BookingStatus, PaymentStatus
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
        fields = ("id", "guest", "guest_name", "listing", "listing_name", "property_name", "status", "source", "stage",
                  "checkin_date", "checkout_date", "guests_planned", *MONEY, "referral_code", "confirmed_at",
                  "checked_in_at", "checked_out_at", "created_at")
        read_only_fields = ("status", "confirmed_at", "checked_in_at", "checked_out_at", "created_at")

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
    guest = serializers.IntegerField()
    listing = serializers.IntegerField()
    checkin_date = serializers.DateField()
    checkout_date = serializers.DateField()
    guests_planned = serializers.IntegerField(min_value=1, max_value=50)
    total_amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    source = serializers.ChoiceField(choices=BookingSource.choices, default=BookingSource.DIRECT)
    referral_code = serializers.CharField(required=False, allow_blank=True, max_length=20)
    confirm = serializers.BooleanField(default=True)


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

    def create(self, request, *args, **kwargs):
        incoming = BookingCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        confirm = data.pop("confirm")
        guest = self._related("guest", data.pop("guest"))
        listing = self._related("listing", data.pop("listing"))
        if not data.get("referral_code"):
            data.pop("referral_code", None)
        booking = services.create_booking(guest=guest, listing=listing, confirm=confirm, **data)
        return Response(BookingSerializer(booking, context={"request": request}).data, status=201)

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
