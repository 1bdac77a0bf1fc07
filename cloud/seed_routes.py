"""The energy seed's four routes, unchanged: POST with a JSON body, Portuguese fields."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from cloud import presenters
from cloud.directory import check_registration
from cloud.ratelimit import checks_registration
from cloud.requests import json_body
from cloud.wiring import accounts

bp = Blueprint("seed", __name__)


def _registration() -> str:
    return check_registration(json_body("matricula")["matricula"])


@bp.post("/validacao-usuario")
@checks_registration
def validate_user() -> ResponseReturnValue:
    body = json_body("username", "matricula")
    customer = accounts().directory.find(body["username"], body["matricula"])
    return jsonify(valido=True, username=customer.username, matricula=customer.registration)


@bp.post("/medicoes/ultima-medicao")
def latest_reading() -> ResponseReturnValue:
    customer, reading = accounts().latest_reading(_registration())
    return jsonify(
        matricula=customer.registration,
        medidor=customer.meter,
        data_hora=presenters.iso(reading.time),
        valor=reading.register,
        unidade=reading.kind.spec.register_unit,
    )


@bp.post("/gerar-fatura")
def invoice() -> ResponseReturnValue:
    i = accounts().last_period_invoice(_registration())
    return jsonify(
        matricula=i.customer.registration,
        periodo={"inicio": presenters.iso(i.start.time), "fim": presenters.iso(i.end.time)},
        leitura_anterior=float(i.invoice.previous_register),
        leitura_atual=float(i.invoice.last_register),
        consumo=float(i.invoice.consumption),
        taxa=float(i.invoice.rate),
        valor=float(i.invoice.amount),
    )


@bp.post("/alerta-consumo")
def consumption_alert() -> ResponseReturnValue:
    report = accounts().excess_consumption(_registration())
    c = report.check
    message = (
        f"consumo excessivo: o último período ({c.newest_period}) excede em {c.excess} "
        f"a média dos 3 anteriores ({c.baseline_mean})"
        if c.excessive
        else "sem consumo excessivo"
    )
    return jsonify(
        matricula=report.customer.registration,
        consumo_excessivo=c.excessive,
        mensagem=message,
        consumo_ultimo_periodo=float(c.newest_period),
        media_periodos_anteriores=float(c.baseline_mean),
        excesso=float(c.excess),
    )
