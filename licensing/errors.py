"""Domain errors: each carries the stable `code` that the APIs return."""


class LicensingError(Exception):
    code = "licensing_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownLicenseKey(LicensingError):
    code = "invalid_license_key"


class EntitlementSuspended(LicensingError):
    code = "entitlement_suspended"


class EntitlementExpired(LicensingError):
    code = "entitlement_expired"


class EntitlementNotStarted(LicensingError):
    code = "entitlement_not_started"


class SeatNotFound(LicensingError):
    code = "activation_not_found"


class SeatNotHeld(LicensingError):
    code = "seat_not_held"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
