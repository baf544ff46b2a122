"""Client API for software clients: `Authorization: License <license_key>`.

An activation is a Seat; its `id` is the seat's id. One APIView per action.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing import errors, leases, services
from licensing.api import schema
from licensing.api.auth import LicenseKey, LicenseKeyAuthentication, invalid_license_key
from licensing.api.parsers import JSONParser
from licensing.api.throttling import AuthFailureThrottleMixin, LicenseKeyThrottle
from licensing.models import Entitlement, Seat
from licensing.zones import SeatCounts


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of converting them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class ActivationInputSerializer(serializers.Serializer):
    fingerprint = StrictCharField(
        max_length=services.FINGERPRINT_MAX_LENGTH,
        help_text="Stable id of the machine or user taking the seat.",
    )
    label = StrictCharField(  # type: ignore[assignment]
        max_length=services.LABEL_MAX_LENGTH, required=False, allow_blank=True, default=""
    )

    def validate_fingerprint(self, value: str) -> str:
        return _domain_clean(services.clean_fingerprint, value)

    def validate_label(self, value: str) -> str:
        return _domain_clean(services.clean_label, value)


def _domain_clean(cleaner: Any, value: str) -> str:
    try:
        return str(cleaner(value))
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


def _well_formed_activation(data: Any) -> tuple[str, str] | None:
    """(fingerprint, label), cleaned, from a well-formed activation body; None for any other
    body, which only the serializer can answer field by field."""
    if not isinstance(data, dict):
        return None
    fingerprint, label = data.get("fingerprint"), data.get("label", "")
    if not (isinstance(fingerprint, str) and isinstance(label, str)):
        return None
    try:
        return services.clean_fingerprint(fingerprint), services.clean_label(label)
    except DjangoValidationError:
        return None


def _activation_input(data: Any) -> tuple[str, str]:
    """(fingerprint, label) from the body. A well-formed body is checked by the domain's own
    cleaners alone; anything else goes through the serializer for its field-by-field errors
    (the same rules: `validate_fingerprint` and `validate_label` call those cleaners)."""
    cleaned = _well_formed_activation(data)
    if cleaned is not None:
        return cleaned
    serializer = ActivationInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["fingerprint"], serializer.validated_data["label"]


def _seats_body(counts: SeatCounts) -> dict[str, int | None]:
    return counts.as_dict()


def granted_body(seat: Seat, counts: SeatCounts, message: str, grace: int) -> dict[str, Any]:
    """A granted activation's or a heartbeat's answer, with its lease token (licensed offline
    for `grace` seconds past the lease)."""
    token, valid_until = leases.issue(seat, grace=grace)
    return {
        "id": str(seat.pk),
        "status": "overdraft" if seat.overdraft else "ok",
        "fingerprint": seat.fingerprint,
        "overdraft": seat.overdraft,
        "seats": _seats_body(counts),
        "lease_expires_at": seat.lease_expires_at.isoformat() if seat.lease_expires_at else None,
        "lease": token,
        "lease_valid_until": datetime.fromtimestamp(valid_until, UTC).isoformat(),
        "message": message,
    }


def heartbeat_message(seat: Seat) -> str:
    if seat.lease_expires_at:
        return f"Lease extended until {seat.lease_expires_at:%Y-%m-%d %H:%M:%S} UTC."
    return "Seat is held; named seats need no heartbeat."


def _parse_seat_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise errors.SeatNotFound(
            "No activation with this id exists for this license key."
        ) from None


class ClientAPIView(AuthFailureThrottleMixin, APIView):
    authentication_classes = [LicenseKeyAuthentication]
    permission_classes: list[Any] = []
    throttle_classes = [LicenseKeyThrottle]
    parser_classes = [JSONParser]

    @property
    def credential(self) -> LicenseKey:
        assert isinstance(self.request.auth, LicenseKey)
        return self.request.auth

    @property
    def entitlement(self) -> Entitlement:
        """The license key's entitlement, looked up on first use; 401 when there is none."""
        return self.credential.entitlement

    @property
    def license_key(self) -> str:
        """The key as sent; the calls that need no more than it do not look it up."""
        key = self.credential.key
        if key is None:
            raise invalid_license_key()
        return key

    def seat_id(self, raw: str) -> uuid.UUID:
        try:
            return _parse_seat_id(raw)
        except errors.SeatNotFound:
            self.entitlement  # noqa: B018  # an unknown key is a 401 before a bad id's 404
            raise

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, errors.UnknownLicenseKey):  # found by a service, not by the lookup
            exc = invalid_license_key()
        return super().handle_exception(exc)


class ActivationCreateView(ClientAPIView):
    """Take a seat: 201 new, 200 already held by this fingerprint, 409 denied."""

    @extend_schema(request=ActivationInputSerializer, **schema.ACTIVATION_CREATE)
    def post(self, request: Request) -> Response:
        try:
            fingerprint, label = _activation_input(request.data)
        except exceptions.APIException:
            self.entitlement  # noqa: B018  # an unknown key is a 401 before its body's 400
            raise
        result = services.seat_activate(
            license_key=self.license_key, fingerprint=fingerprint, label=label
        )
        if result.seat is None:
            headers = {"Retry-After": str(result.retry_after)} if result.retry_after else {}
            return Response(
                {
                    "status": "denied",
                    "code": result.counts.denial_code,
                    "message": result.message,
                    "seats": _seats_body(result.counts),
                    "retry_after": result.retry_after,
                },
                status=status.HTTP_409_CONFLICT,
                headers=headers,
            )
        return Response(
            granted_body(result.seat, result.counts, result.message, result.offline_grace),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class ActivationHeartbeatView(ClientAPIView):
    """Extend a floating seat's lease: 200, or 410 when the seat is no longer held."""

    @extend_schema(**schema.ACTIVATION_HEARTBEAT)
    def post(self, request: Request, activation_id: str) -> Response:
        beat = services.seat_heartbeat(
            license_key=self.license_key, seat_id=self.seat_id(activation_id)
        )
        return Response(
            granted_body(beat.seat, beat.counts, heartbeat_message(beat.seat), beat.offline_grace)
        )


class ActivationReleaseView(ClientAPIView):
    """Give a seat back: 204, also when it was already released."""

    @extend_schema(**schema.ACTIVATION_RELEASE)
    def delete(self, request: Request, activation_id: str) -> Response:
        services.seat_release(license_key=self.license_key, seat_id=self.seat_id(activation_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EntitlementStatusView(ClientAPIView):
    """The license key's entitlement: current usage and zone."""

    @extend_schema(**schema.ENTITLEMENT_STATUS)
    def get(self, request: Request) -> Response:
        entitlement = self.entitlement
        services.seats_expire_due(entitlements=[entitlement])
        counts = SeatCounts.of(entitlement)
        return Response(
            {
                "id": str(entitlement.pk),
                "status": entitlement.status,
                "zone": counts.zone,
                "product": {"name": entitlement.product.name, "code": entitlement.product.code},
                "customer": {"name": entitlement.customer.name},
                "seats": _seats_body(counts),
                "lease_seconds": entitlement.lease_seconds,
                "starts_at": entitlement.starts_at.isoformat(),
                "ends_at": entitlement.ends_at.isoformat() if entitlement.ends_at else None,
            }
        )
