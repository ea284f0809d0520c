"""Builds the projector from settings: store migrated, dead-letter writer, signals, metrics."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import Protocol, TypeVar

import click
from kafka.errors import KafkaError
from prometheus_client import start_http_server
from sqlalchemy import Engine

from client_audit.cli.alert_wiring import alert_config_of, open_relay, relay_running
from client_audit.cli.kafka_wiring import topic_layout
from client_audit.settings import Settings
from consumer.checkpointing import Checkpointer, CheckpointPolicy, CheckpointPublisher
from consumer.dead_letter import DeadLetterWriter
from consumer.errors import ConsumerError
from consumer.intake import Intake
from consumer.metrics import ProjectorMetrics
from consumer.projector import Projector, ProjectorConfig, ProjectorReport
from producer.errors import ProducerError
from producer.topics import ensure_topics
from projections.chain.signing import SigningKey, SigningKeyError
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.write.store import ApplyResult, ProjectionStore

log = logging.getLogger(__name__)


class Stoppable(Protocol):
    """Something that finishes its current batch and leaves when asked (a projector, a
    replay)."""

    def stop(self) -> None: ...


@contextmanager
def stop_on_signals(projector: Stoppable) -> Iterator[None]:
    """SIGTERM and SIGINT ask the projector to finish its batch, commit and leave."""

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s; finishing the current batch", signal.Signals(signum).name)
        projector.stop()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def signing_key_of(settings: Settings) -> SigningKey | None:
    """The checkpoint signing key of the settings (a usage error when it cannot be used)."""
    if settings.signing_key is None:
        return None
    try:
        return SigningKey.load(settings.signing_key)
    except SigningKeyError as exc:
        raise click.BadParameter(str(exc), param_hint="--signing-key") from None


def run_projector(
    settings: Settings,
    database_url: str,
    group_id: str | None,
    until_caught_up: bool,
    batch_size: int,
    metrics_port: int | None = None,
    start_offsets: Mapping[int, int] | None = None,
    instance_id: str | None = None,
    checkpoint_policy: CheckpointPolicy | None = None,
    relay: bool = True,
) -> ProjectorReport:
    """Migrate the store, then project the lifecycle topic into it until stopped or caught up.

    With a signing key in the settings, signed checkpoints are made as the policy says and
    when the projector stops; without one, it says so. Flagged entries go to the alert
    outbox as the alerts file's rules say; with ``relay`` a relay thread publishes them
    (else ``client-audit relay`` does).
    """
    key = signing_key_of(settings)
    alerts = alert_config_of(settings)
    try:
        ensure_topics(
            settings.kafka_bootstrap_servers, topic_layout(settings), settings.delivery_timeout_s,
            settings.kafka_client_options(),
        )
    except ProducerError as exc:
        raise click.ClickException(str(exc)) from None
    upgrade(database_url)
    engine = create_engine_for(database_url)
    metrics = ProjectorMetrics()
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
        log.info("metrics on http://127.0.0.1:%d/metrics", metrics_port)
    config = ProjectorConfig(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=settings.lifecycle_topic,
        dead_letter_topic=settings.dead_letter_topic,
        group_id=group_id,
        instance_id=instance_id,
        batch_size=batch_size,
        until_caught_up=until_caught_up,
        start_offsets=start_offsets,
        timeout_s=settings.delivery_timeout_s,
        client_options=settings.kafka_client_options(),
    )
    with ExitStack() as resources:
        resources.callback(engine.dispose)
        dead_letters = _opened("dead-letter", settings, lambda: DeadLetterWriter(
            settings.kafka_bootstrap_servers, settings.dead_letter_topic,
            settings.delivery_timeout_s, settings.kafka_client_options(),
        ))
        resources.callback(dead_letters.close)
        checkpointer = _opened("checkpoint", settings, lambda: _checkpointer(
            settings, engine, key, checkpoint_policy or CheckpointPolicy()
        ))
        if checkpointer is not None and checkpointer.publisher is not None:
            resources.callback(checkpointer.publisher.close)
        relaying = (
            open_relay(settings, engine, alerts, registry=metrics.registry) if relay else None
        )
        wake = threading.Event()

        def after_batch(intake: Intake, result: ApplyResult) -> None:
            if checkpointer is not None:
                checkpointer.after_batch(intake, result)
            if result.anomalies:
                wake.set()

        projector = Projector(
            config, ProjectionStore(engine, alerts=alerts.rules), dead_letters, metrics,
            on_batch=after_batch,
        )
        try:
            with stop_on_signals(projector), relay_running(relaying, wake, drain=until_caught_up):
                report = projector.run()
            if checkpointer is not None:
                checkpointer.finish()
            return report
        except KafkaError as exc:
            log.debug("the projector stopped on a Kafka error", exc_info=True)
            raise click.ClickException(f"Kafka error: {exc}") from None
        except ConsumerError as exc:
            raise click.ClickException(str(exc)) from None
    raise AssertionError("unreachable")


_Opened = TypeVar("_Opened")


def _opened(what: str, settings: Settings, opening: Callable[[], _Opened]) -> _Opened:
    """What ``opening`` opens; a CLI error naming the producer when Kafka is away."""
    try:
        return opening()
    except KafkaError as exc:
        raise click.ClickException(
            f"the {what} producer could not reach Kafka at "
            f"{settings.kafka_bootstrap_servers}: {exc}"
        ) from None


def _checkpointer(
    settings: Settings, engine: Engine, key: SigningKey | None, policy: CheckpointPolicy
) -> Checkpointer | None:
    if key is None:
        log.warning(
            "running without a signing key: no signed checkpoints are made, so the audit log "
            "can be checked only against itself and the topic (see `client-audit keys "
            "generate` and --signing-key)"
        )
        return None
    log.info("signing checkpoints with key %s", key.key_id)
    publisher = CheckpointPublisher(
        settings.kafka_bootstrap_servers, settings.checkpoint_topic, settings.delivery_timeout_s,
        settings.kafka_client_options(),
    )
    return Checkpointer(engine, key, policy, publisher)
