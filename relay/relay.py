"""The relay: alerts from the outbox to the alert topic, then to webhooks and SIEMs.

Publishing takes a batch of unpublished outbox rows (locked), sends them to the alert topic
and waits for the broker's confirmation, then marks them published and makes their
deliveries, in the same database transaction. A crash before the mark leaves them
unpublished: the next relay sends them again with the same ``ce_id``; nothing is lost.

Delivering takes the deliveries that are due (leased so no other relay takes them), tries
each once, and records the attempt: delivered, pending again after a backoff with jitter,
or failed once the retry policy gives up (``client-audit redeliver`` makes it pending).
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine

from projections.alerts import relaying
from projections.alerts.model import Alert
from projections.alerts.relaying import Attempt, Delivery, Target
from projections.db.engine import write_transaction
from relay.alert_topic import AlertPublisher, AlertTopicError
from relay.backoff import gives_up, retry_delay
from relay.config import AlertConfig, SiemOutput
from relay.metrics import RelayMetrics
from relay.siem import SiemError, SiemSender, cef_line, frame, syslog_message
from relay.webhook import post_alert

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def targets_of(config: AlertConfig) -> list[Target]:
    """The push targets of a configuration: its webhook endpoints and SIEM outputs."""
    found = [Target(hook.name, "webhook", frozenset(hook.kinds)) for hook in config.webhooks]
    found += [Target(out.name, out.format, frozenset(out.kinds)) for out in config.siem]
    return found


@dataclass
class RelayReport:
    published: int = 0
    deliveries_made: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    publish_failures: int = 0
    errors: list[str] = field(default_factory=list)


class Relay:
    """Publishes the outbox and delivers alerts; :meth:`run` loops until stopped."""

    def __init__(
        self,
        engine: Engine,
        publisher: AlertPublisher,
        config: AlertConfig,
        *,
        batch_size: int = 500,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        workers: int = 8,
        metrics: RelayMetrics | None = None,
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.config = config
        self.batch_size = batch_size
        self.clock = clock
        self.rng = rng or random.Random()
        self.targets = targets_of(config)
        self.report = RelayReport()
        self.metrics = metrics or RelayMetrics()
        self._webhooks = {hook.name: hook for hook in config.webhooks}
        self._siem = {out.name: out for out in config.siem}
        self._senders: dict[str, SiemSender] = {}
        self._http = httpx.Client(follow_redirects=False, trust_env=False)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")
        self.delivery_batch = min(batch_size, workers * 4)
        """Deliveries tried per round: a few per worker, so that a round is short and an
        alert published meanwhile waits little for the next one."""
        self._counting = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._due = threading.Event()
        self._hostname = socket.gethostname()

    # --- publishing -----------------------------------------------------------------------

    def publish_once(self) -> int:
        """Publish one batch of the outbox; return how many alerts (0: none waiting, or the
        broker did not confirm them, which is logged and retried on the next call)."""
        try:
            with write_transaction(self.engine) as connection:
                batch = relaying.unpublished(connection, self.batch_size)
                if not batch:
                    return 0
                self.publisher.publish([alert for _seq, alert in batch])
                made = relaying.mark_published(connection, batch, self.targets, self.clock())
        except AlertTopicError as exc:
            with self._counting:
                self.report.publish_failures += 1
            self.metrics.publish_failures.inc()
            log.warning("alerts not confirmed by Kafka, will retry: %s", exc)
            return 0
        with self._counting:
            self.report.published += len(batch)
            self.report.deliveries_made += made
        self.metrics.published.inc(len(batch))
        log.debug("published %d alerts, %d deliveries made", len(batch), made)
        return len(batch)

    def publish_all(self) -> int:
        """Publish until the outbox has nothing unpublished (or the broker fails)."""
        total = 0
        while published := self.publish_once():
            total += published
        return total

    # --- delivering -----------------------------------------------------------------------

    def _lease(self) -> timedelta:
        longest = max(
            [hook.timeout_s for hook in self.config.webhooks]
            + [out.timeout_s for out in self.config.siem] + [1.0]
        )
        return timedelta(seconds=longest * 2 + 30)

    def deliver_once(self) -> int:
        """Try every delivery that is due (up to a batch); return how many were tried."""
        now = self.clock()
        with write_transaction(self.engine) as connection:
            due = relaying.take_due(
                connection, now, self.delivery_batch, self._lease(),
                [target.name for target in self.targets],
            )
        if not due:
            return 0
        attempts = self._attempt_all(due)
        with write_transaction(self.engine) as connection:
            for delivery, attempt in zip(due, attempts, strict=True):
                status = relaying.record_attempt(
                    connection, delivery, attempt, self._next_attempt(delivery, attempt)
                )
                self._count(delivery, attempt, status)
        return len(due)

    def _attempt_all(self, due: Sequence[Delivery]) -> list[Attempt]:
        """One attempt of each delivery: webhooks side by side in the pool, SIEM frames
        here, one after the other on each output's connection."""
        futures = {
            d.delivery_id: self._pool.submit(self._attempt, d)
            for d in due if d.target in self._webhooks
        }
        return [
            futures[d.delivery_id].result() if d.delivery_id in futures else self._attempt(d)
            for d in due
        ]

    def _attempt(self, delivery: Delivery) -> Attempt:
        """One attempt of ``delivery``; an attempt that broke is a failed attempt, recorded
        like any other, not a lost round."""
        at = self.clock()
        try:
            if delivery.target in self._webhooks:
                return post_alert(
                    self._webhooks[delivery.target], delivery.alert,
                    allowed=self.config.allowed_networks, now=self.clock, client=self._http,
                )
            return self._send_to_siem(self._siem[delivery.target], delivery.alert, at)
        except Exception as exc:
            log.exception("delivery to %s broke", delivery.target)
            return Attempt(at, False, f"{type(exc).__name__}: {exc}", 0)

    def _send_to_siem(self, output: SiemOutput, alert: Alert, at: datetime) -> Attempt:
        if output.format == "syslog":
            message = syslog_message(alert, hostname=self._hostname)
        else:
            message = cef_line(alert).encode()
        framed = frame(message, output.format)
        sender = self._senders.get(output.name)
        if sender is None:
            sender = self._senders[output.name] = self._sender_of(output)
        started = time.monotonic()
        try:
            sender.send([framed])
        except SiemError as exc:
            return Attempt(at, False, str(exc), _ms_since(started))
        return Attempt(at, True, f"sent {len(framed)} bytes", _ms_since(started))

    def _sender_of(self, output: SiemOutput) -> SiemSender:
        return SiemSender(output.host, output.port, timeout_s=output.timeout_s)

    def _next_attempt(self, delivery: Delivery, attempt: Attempt) -> datetime | None:
        if attempt.succeeded or gives_up(delivery.retrying_since, attempt.at, self.config.retry):
            return None
        delay = retry_delay(delivery.attempts + 1, self.config.retry, self.rng)
        return attempt.at + timedelta(seconds=delay)

    def _count(self, delivery: Delivery, attempt: Attempt, status: str) -> None:
        counted, label = _OUTCOMES[status]
        with self._counting:
            setattr(self.report, counted, getattr(self.report, counted) + 1)
        self.metrics.attempts.labels(delivery.target, label).inc()
        if status == relaying.FAILED:
            log.error(
                "delivery %d of alert %s to %s failed after %d attempts: %s",
                delivery.delivery_id, delivery.alert.alert_id, delivery.target,
                delivery.attempts + 1, attempt.result,
            )
        elif status == relaying.PENDING:
            log.warning(
                "delivery %d of alert %s to %s will be retried: %s", delivery.delivery_id,
                delivery.alert.alert_id, delivery.target, attempt.result,
            )

    # --- the loop -------------------------------------------------------------------------

    def run(self, wake: threading.Event | None = None, idle_s: float = 0.5) -> RelayReport:
        """Publish and deliver until :meth:`stop`; ``wake`` (set by the projector after
        each batch with flagged entries) ends an idle wait early. Publishing and delivering
        run in two threads, so a slow endpoint never holds alerts off the topic. Database
        and broker errors are logged and retried."""
        if wake is not None:
            self._wake = wake
        delivering = threading.Thread(
            target=self._deliver_until_stopped, args=(idle_s,), name="relay-deliveries",
            daemon=True,
        )
        delivering.start()
        try:
            while not self._stop.is_set():
                if self._step(self.publish_once):
                    self._due.set()
                else:
                    self._wake.wait(idle_s)
                    self._wake.clear()
        finally:
            self._due.set()
            delivering.join()
            self._stop.clear()
        return self.report

    def stop(self) -> None:
        """Ask :meth:`run` (both its threads) to finish the round and return (the relay can
        then :meth:`finish` or run again), or a :meth:`finish` in progress to stop trying
        deliveries."""
        self._stop.set()
        self._wake.set()
        self._due.set()

    def finish(self, every_due: bool = True) -> None:
        """Publish what is left in the outbox, then try the deliveries due: every one (until
        none is due or :meth:`stop`), or a single round."""
        self.publish_all()
        while self.deliver_once() and every_due and not self._stop.is_set():
            pass

    def _deliver_until_stopped(self, idle_s: float) -> None:
        while not self._stop.is_set():
            if not self._step(self.deliver_once):
                self._due.wait(idle_s)
                self._due.clear()

    def _step(self, step: Callable[[], int]) -> int:
        try:
            return step()
        except Exception as exc:
            log.exception("relay step failed; retrying")
            with self._counting:
                self.report.errors.append(str(exc))
            return 0

    def close(self) -> None:
        """Release the HTTP pool, the SIEM connections and the alert publisher."""
        self._pool.shutdown(wait=True)
        self._http.close()
        for sender in self._senders.values():
            sender.close()
        self.publisher.close()


_OUTCOMES = {
    relaying.DELIVERED: ("delivered", "delivered"),
    relaying.PENDING: ("retried", "retry"),
    relaying.FAILED: ("failed", "failed"),
}
"""Each status an attempt leaves its delivery in: the report's count of it, and the
``outcome`` label of the attempts counter."""


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
