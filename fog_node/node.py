"""FogNode: every part of one fog process, wired together, started and stopped in order."""

from __future__ import annotations

import logging
from dataclasses import replace

import redis

from fog_node.alerts_store import Alert, AlertStore
from fog_node.api import FogServices
from fog_node.audit import AuditTrail
from fog_node.commander import CommandCenter
from fog_node.config import FogConfig
from fog_node.ingest import Ingestor
from fog_node.judge import Judge
from fog_node.metrics import IngestMetrics
from fog_node.mqtt_link import tls_client_context
from fog_node.policy_store import PolicyStore
from fog_node.publisher import Publisher
from fog_node.store import IngestBatch, RegionStore
from nevoa_core.alerts import RuleSettings
from nevoa_core.calendar import Calendar
from nevoa_core.clock import Clock, clock_from

log = logging.getLogger("nevoa.fog")


class FogNode:
    def __init__(self, config: FogConfig, client: redis.Redis | None = None,
                 clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or clock_from(config.clock_start)
        self.calendar = Calendar(config.timezone)
        self.redis = client or redis.Redis.from_url(
            config.redis_url, decode_responses=True, socket_timeout=10,
            socket_connect_timeout=5, health_check_interval=30)
        region = config.region
        self.store = RegionStore(self.redis, region, config.retention, self.calendar, self.clock)
        self.audit = AuditTrail(self.redis, region, self.clock)
        self.alerts = AlertStore(self.redis, region)
        self.policies = PolicyStore(self.redis, region, self.audit)
        # one TLS context (CA loaded once) for both MQTT connections
        tls = tls_client_context(config.tls_ca) if config.tls_ca else None
        self.publisher = Publisher(config.broker_host, config.broker_port,
                                   f"{config.session_id}-out",
                                   config.mqtt_out_username or config.mqtt_username,
                                   config.mqtt_out_password or config.mqtt_password, tls)
        self.commands = CommandCenter(self.redis, region, self.publisher, self.audit,
                                      config.command_retry, self.clock)
        rules = RuleSettings(config.leak_window, config.silent_factor, config.silent_min)
        self.metrics = IngestMetrics()
        self.ingestor = Ingestor(config, self.store, self.commands.on_acks, self.metrics,
                                 on_stored=self._stored, clock=self.clock)
        if tls is not None:  # the Ingestor builds the link's settings; it connects on start()
            self.ingestor.link.settings = replace(self.ingestor.link.settings, tls=tls)
        self.judge = Judge(self.redis, region, rules, self.alerts, self.commands, self.policies,
                           self.publisher, config.judge_interval, config.full_sweep,
                           backlogged=self.ingestor.backlogged, calendar=self.calendar,
                           clock=self.clock)

    def _stored(self, batch: IngestBatch) -> None:
        self.judge.mark(r.meter for r in batch.readings)

    def _alert_changed(self, alert: Alert) -> None:
        self.judge.publish(alert)

    def services(self) -> FogServices:
        return FogServices(self.store, self.alerts, self.commands, self.policies, self.audit,
                           self.metrics, self.ingestor.connected.is_set, self._alert_changed,
                           self.calendar, self.clock, self.ingestor.health)

    def start(self) -> None:
        self.publisher.start()
        self.commands.start()
        self.judge.start()
        self.ingestor.start()

    def log_started(self) -> None:
        c = self.config
        log.info("region %s: broker %s:%d (%s, session %s%s), redis %s, HTTP API on "
                 "http://%s:%d, calendar %s, clock %r", c.region, c.broker_host, c.broker_port,
                 f"TLS, CA {c.tls_ca}" if c.tls_ca else "plain TCP", c.session_id,
                 f", shared group {c.shared_group}" if c.shared_group else "", c.redis_url,
                 c.http_host, c.http_port, c.timezone, self.clock)

    def stop(self) -> None:
        """Finish what was read, then stop judging and sending, then disconnect."""
        self.ingestor.stop()
        self.judge.stop()
        self.commands.stop()
        self.publisher.stop()
        log.info("fog node of region %s stopped", self.config.region)
