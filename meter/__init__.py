"""Simulated smart meters: many per process, publishing SenML readings over MQTT."""
