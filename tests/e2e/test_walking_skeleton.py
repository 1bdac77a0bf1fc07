"""End to end on real parts: simulated meters publish through each region's Mosquitto
to its fog node and Redis; the cloud answers the seed routes from the fog nodes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from meter.model import ScriptedConsumption, SimulatedMeter
from nevoa_core import topics
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading, encode_pack
from nevoa_stack.stack import LocalStack
from tests.support import http, publish_qos1, two_region_stack, wait_until

MARIA, JOAO = "r1-e000001", "r2-e000001"
T0 = time.time() - 600


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with two_region_stack(tmp_path_factory.mktemp("stack"), demo_meters_per_region=3) as s:
        yield s


def publish_readings(stack: LocalStack, region: str, meter: SimulatedMeter, times: list[float]
                     ) -> None:
    """The simulated meter reads at each time; every reading is published and acknowledged."""
    readings = [meter.read(t) for t in times]
    rp = stack.region_processes[region]
    publish_qos1(rp.broker.host, rp.broker.port,
                 [(topics.reading(region, r.meter), encode_pack(r.meter, [r]))
                  for r in readings if r is not None],
                 client_id=f"test-{meter.meter_id}")


def seed(stack: LocalStack, route: str, matricula: str) -> tuple[int, dict[str, object]]:
    return http("POST", stack.cloud_url + route, {"matricula": matricula})


def five_readings_seen(stack: LocalStack, region: str, meter: str) -> bool:
    status, body = http("GET", f"{stack.region_processes[region].fog_url}"
                        f"/api/v1/meters/{meter}/readings?limit=5")
    return status == 200 and len(body["readings"]) == 5


@pytest.fixture(scope="module")
def known_readings(stack: LocalStack) -> None:
    times = [T0 + 15 * i for i in range(5)]
    # maria: periods 10, 10, 10, 30 -> invoice (60 - 30) x 3 = 90; excess 30 - 10 = 20
    publish_readings(stack, "r1", SimulatedMeter(
        MARIA, Kind.ELECTRICITY, ScriptedConsumption([10, 10, 10, 30])), times)
    # joao: periods 5, 5, 5, 6 -> invoice 6 x 3 = 18; 6 < 1.5 x 5: no excess
    publish_readings(stack, "r2", SimulatedMeter(
        JOAO, Kind.ELECTRICITY, ScriptedConsumption([5, 5, 5, 6])), times)
    wait_until(lambda: five_readings_seen(stack, "r1", MARIA), what="maria's readings")
    wait_until(lambda: five_readings_seen(stack, "r2", JOAO), what="joao's readings")


@pytest.mark.usefixtures("known_readings")
class TestSeedRoutes:
    def test_validates_registered_customers_only(self, stack: LocalStack) -> None:
        url = stack.cloud_url + "/validacao-usuario"
        assert http("POST", url, {"username": "maria", "matricula": "10001"}) == (
            200, {"valido": True, "username": "maria", "matricula": "10001"})
        status, body = http("POST", url, {"username": "joao", "matricula": "10001"})
        assert status == 404 and body["error"]

    def test_latest_reading(self, stack: LocalStack) -> None:
        status, body = seed(stack, "/medicoes/ultima-medicao", "10001")
        assert status == 200
        assert body["valor"] == 60.0 and body["medidor"] == MARIA and body["unidade"] == "kWh"

    def test_invoice_of_the_last_period(self, stack: LocalStack) -> None:
        status, body = seed(stack, "/gerar-fatura", "10001")
        assert status == 200
        assert (body["consumo"], body["taxa"], body["valor"]) == (30.0, 3.0, 90.0)
        status, body = seed(stack, "/gerar-fatura", "10002")
        assert (status, body["consumo"], body["valor"]) == (200, 6.0, 18.0)

    def test_excess_consumption_alert(self, stack: LocalStack) -> None:
        status, body = seed(stack, "/alerta-consumo", "10001")
        assert status == 200
        assert body["consumo_excessivo"] is True
        assert body["excesso"] == 20.0 and body["media_periodos_anteriores"] == 10.0
        status, body = seed(stack, "/alerta-consumo", "10002")
        assert (status, body["consumo_excessivo"], body["excesso"]) == (200, False, 0.0)

    def test_the_versioned_api_gives_the_same_answers(self, stack: LocalStack) -> None:
        status, login = http("POST", stack.cloud_url + "/api/v1/auth/login",
                             {"username": "maria", "registration": "10001"})
        assert status == 200
        maria = {"Authorization": f"Bearer {login['token']}"}
        api = stack.cloud_url + "/api/v1/customers"
        status, body = http("GET", f"{api}/10001/invoice", headers=maria)
        assert status == 200 and body["amount"] == "90.00" and body["consumption"] == "30.000"
        status, body = http("GET", f"{api}/10001/consumption-alert", headers=maria)
        assert status == 200 and body["excessive"] is True and body["excess"] == "20.000"
        # her token opens her data only; without one, nothing
        assert http("GET", f"{api}/10002/invoice", headers=maria)[0] == 403
        assert http("GET", f"{api}/10001/invoice")[0] == 401

    def test_unknown_customer_is_404(self, stack: LocalStack) -> None:
        for route in ("/medicoes/ultima-medicao", "/gerar-fatura", "/alerta-consumo"):
            status, body = seed(stack, route, "99999")
            assert status == 404 and "not found" in body["error"]

    def test_a_customer_without_readings_gets_a_clear_answer(self, stack: LocalStack) -> None:
        status, body = seed(stack, "/alerta-consumo", "1000002")  # r1-e000002: silent
        assert status == 409
        assert body["needed"] == 5 and body["available"] == 0 and body["error"]

    @pytest.mark.parametrize("body", [None, b"not json", [], {"matricula": None},
                                      {"matricula": "12ab"}, {"other": 1}])
    def test_bad_requests_are_400_json(self, stack: LocalStack, body: object) -> None:
        status, answer = http("POST", stack.cloud_url + "/gerar-fatura", body)
        assert status == 400 and answer["status"] == 400 and answer["error"]


def test_a_redelivered_reading_is_a_duplicate_not_a_second_reading(
        stack: LocalStack, known_readings: None) -> None:
    fog = stack.region_processes["r1"].fog_url
    before = http("GET", fog + "/api/v1/stats")[1]
    again = Reading(MARIA, 5, T0 + 60, Kind.ELECTRICITY, 60.0)
    publish_raw(stack, "r1", topics.reading("r1", MARIA), encode_pack(MARIA, [again]))
    wait_until(lambda: http("GET", fog + "/api/v1/stats")[1]["duplicates"]
               > before["duplicates"], what="the duplicate to be counted")
    assert http("GET", fog + "/api/v1/stats")[1]["stored"] == before["stored"]
    assert seed(stack, "/gerar-fatura", "10001")[1]["valor"] == 90.0


def publish_raw(stack: LocalStack, region: str, topic: str, payload: bytes) -> None:
    rp = stack.region_processes[region]
    publish_qos1(rp.broker.host, rp.broker.port, [(topic, payload)], client_id="test-raw")


def test_a_malformed_payload_is_counted_and_the_fog_node_keeps_serving(
        stack: LocalStack, known_readings: None) -> None:
    fog = stack.region_processes["r2"].fog_url
    before = http("GET", fog + "/api/v1/stats")[1]["rejected"]
    for payload in (b"\x00garbage", b"[{\"bn\": 1}]", b"{\"a\": [" * 50):
        publish_raw(stack, "r2", topics.reading("r2", JOAO), payload)
    wait_until(lambda: sum(http("GET", fog + "/api/v1/stats")[1]["rejected"].values())
               >= sum(before.values()) + 3, what="three rejects")
    rejected = http("GET", fog + "/api/v1/stats")[1]["rejected"]
    assert rejected.get("malformed", 0) >= before.get("malformed", 0) + 2
    # still alive and still storing good readings
    assert http("GET", fog + "/health")[0] == 200
    publish_readings(stack, "r2", SimulatedMeter(
        "r2-e000002", Kind.ELECTRICITY, ScriptedConsumption([1])), [T0, T0 + 15])
    wait_until(lambda: http("GET", f"{fog}/api/v1/meters/r2-e000002/latest")[0] == 200,
               what="a good reading after the bad ones")
