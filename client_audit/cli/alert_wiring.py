"""Builds the alert side from settings: the alerts file loaded, the relay and its thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from client_audit.settings import Settings
from relay.alert_topic import AlertPublisher
from relay.config import AlertConfig, AlertConfigError, load_alert_config
from relay.metrics import RelayMetrics
from relay.relay import Relay

log = logging.getLogger(__name__)


def alert_config_of(settings: Settings) -> AlertConfig:
    """The alerts file of the settings (every kind alerts, no push targets, without one); a
    usage error naming each line at fault otherwise."""
    if settings.alerts_config is None:
        return AlertConfig()
    try:
        return load_alert_config(settings.alerts_config)
    except AlertConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--alerts") from None


def open_relay(
    settings: Settings,
    engine: Engine,
    config: AlertConfig,
    batch_size: int = 500,
    registry: CollectorRegistry | None = None,
) -> Relay:
    """A relay publishing to the settings' alert topic; a CLI error when Kafka is away."""
    try:
        publisher = AlertPublisher(
            settings.kafka_bootstrap_servers, settings.alert_topic,
            source=settings.alert_source, timeout_s=settings.delivery_timeout_s,
            client_options=settings.kafka_client_options(),
        )
    except KafkaError as exc:
        raise click.ClickException(
            f"the alert producer could not reach Kafka at {settings.kafka_bootstrap_servers}: "
            f"{exc}"
        ) from None
    metrics = RelayMetrics() if registry is None else RelayMetrics(registry)
    return Relay(engine, publisher, config, batch_size=batch_size, metrics=metrics)


@contextmanager
def relay_running(
    relay: Relay | None, wake: threading.Event | None = None, *, drain: bool = False
) -> Iterator[threading.Event]:
    """Run ``relay`` in a thread for the block; yield the event that wakes it (set it when
    new alerts may be in the outbox). Leaving the block stops the thread, then publishes
    what is left and tries the deliveries then due: every one with ``drain`` (a projector
    run until caught up), else one round (a projector asked to stop; the rest wait in the
    database for the next relay). The relay is closed afterwards. Without a relay, nothing
    runs."""
    wake = wake or threading.Event()
    if relay is None:
        yield wake
        return
    thread = threading.Thread(target=relay.run, args=(wake,), name="relay", daemon=True)
    thread.start()
    try:
        yield wake
    finally:
        relay.stop()
        thread.join()
        try:
            relay.finish(every_due=drain)
        except Exception:
            log.exception("the relay could not finish publishing; the outbox keeps the rest")
        report = relay.report
        log.info(
            "relay: %d alerts published, %d delivered, %d to retry, %d failed",
            report.published, report.delivered, report.retried, report.failed,
        )
        relay.close()
