"""Domain exceptions become JSON errors with the right status, here and only here."""

from __future__ import annotations

from flask import Flask
from flask.typing import ResponseReturnValue

from cloud.directory import InvalidCustomer, UnknownCustomer
from cloud.fog_client import RegionUnavailable
from nevoa_adapters.jsonapi import error_response, register_json_errors
from nevoa_core.consumption import NotEnoughReadings


class BadRequest(ValueError):
    """The request body or parameters are not what the route expects."""


def register_error_handlers(app: Flask) -> None:
    register_json_errors(app)

    @app.errorhandler(UnknownCustomer)
    def unknown_customer(exc: UnknownCustomer) -> ResponseReturnValue:
        return error_response(404, "customer not found", matricula=exc.registration)

    @app.errorhandler(InvalidCustomer)
    @app.errorhandler(BadRequest)
    def bad_request(exc: ValueError) -> ResponseReturnValue:
        return error_response(400, str(exc))

    @app.errorhandler(NotEnoughReadings)
    def not_enough(exc: NotEnoughReadings) -> ResponseReturnValue:
        return error_response(
            409,
            f"not enough readings yet: this needs {exc.needed}, the meter has sent "
            f"{exc.available}; try again after the meter's next readings",
            needed=exc.needed,
            available=exc.available,
        )

    @app.errorhandler(RegionUnavailable)
    def region_down(exc: RegionUnavailable) -> ResponseReturnValue:
        return error_response(503, str(exc), region=exc.region)
