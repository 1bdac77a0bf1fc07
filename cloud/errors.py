"""Domain exceptions become JSON errors with the right status, here and only here."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from nevoa_adapters.jsonapi import error_response


class BadRequest(ValueError):
    """The request body or parameters are not what the route expects."""


class NoRegionAnswered(RuntimeError):
    """A city-wide question that no region answered: nothing partial to give (503)."""

    def __init__(self, gathered: Any) -> None:
        super().__init__("no region answered within the timeout")
        self.missing: dict[str, str] = dict(gathered.missing)


def register_error_handlers(app: Flask) -> None:
    # imported here: the modules below import BadRequest from this one
    from cloud.auth import Forbidden, NotAuthenticated
    from cloud.bulk_import import UnreadableImport
    from cloud.directory import InvalidCustomer, UnknownCustomer, UnknownMeter
    from cloud.fog_client import FogRejected, NotFoundInRegion, RegionUnavailable, UnknownRegion
    from cloud.invoicing import NoReadingsInPeriod, PeriodNotStarted, UnknownInvoice
    from cloud.supply import UnknownCommand
    from nevoa_core.consumption import NotEnoughReadings
    from nevoa_core.ids import InvalidId
    from nevoa_core.invoices import AlreadyPaid
    from nevoa_core.periods import InvalidPeriod
    from nevoa_core.tariffs import TariffError

    # HTTP errors (400, 404, 405, 413 ...) and unexpected ones: nevoa_adapters.jsonapi

    @app.errorhandler(UnknownCustomer)
    def unknown_customer(exc: UnknownCustomer) -> Response:
        return error_response(404, "customer not found", matricula=exc.registration)

    @app.errorhandler(UnknownMeter)
    @app.errorhandler(UnknownRegion)
    @app.errorhandler(UnknownCommand)
    @app.errorhandler(UnknownInvoice)
    @app.errorhandler(NotFoundInRegion)
    def not_found(exc: LookupError) -> Response:
        return error_response(404, str(exc))

    @app.errorhandler(InvalidCustomer)
    @app.errorhandler(BadRequest)
    @app.errorhandler(InvalidPeriod)
    @app.errorhandler(InvalidId)
    @app.errorhandler(PeriodNotStarted)
    @app.errorhandler(UnreadableImport)
    @app.errorhandler(TariffError)
    def bad_request(exc: ValueError) -> Response:
        return error_response(400, str(exc))

    @app.errorhandler(NotAuthenticated)
    def not_authenticated(exc: NotAuthenticated) -> Response:
        response = error_response(401, str(exc))
        response.headers["WWW-Authenticate"] = 'Bearer realm="nevoa"'
        return response

    @app.errorhandler(Forbidden)
    def forbidden(exc: Forbidden) -> Response:
        return error_response(403, str(exc))

    @app.errorhandler(AlreadyPaid)
    def already_paid(exc: AlreadyPaid) -> Response:
        return error_response(409, str(exc), invoice=exc.invoice_id)

    @app.errorhandler(NoReadingsInPeriod)
    def no_readings(exc: NoReadingsInPeriod) -> Response:
        return error_response(409, str(exc))

    @app.errorhandler(NotEnoughReadings)
    def not_enough(exc: NotEnoughReadings) -> Response:
        return error_response(
            409,
            f"not enough readings yet: this needs {exc.needed}, the meter has sent "
            f"{exc.available}; try again after the meter's next readings",
            needed=exc.needed,
            available=exc.available,
        )

    @app.errorhandler(FogRejected)
    def fog_rejected(exc: FogRejected) -> Response:
        status = exc.status if exc.status in (400, 409, 422) else 502
        return error_response(status, f"region {exc.region}: {exc}", region=exc.region)

    @app.errorhandler(NoRegionAnswered)
    def nobody_answered(exc: NoRegionAnswered) -> Response:
        return error_response(503, str(exc), partial=True,
                              missing_regions=sorted(exc.missing),
                              region_errors=dict(sorted(exc.missing.items())))

    @app.errorhandler(RegionUnavailable)
    def region_down(exc: RegionUnavailable) -> Response:
        return error_response(503, str(exc), region=exc.region)
