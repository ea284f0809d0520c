"""A single-node KRaft Apache Kafka broker for development and tests: start, reuse, stop."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from devservices.errors import (
    DevServiceError,
    ServiceStartError,
    ServiceStopError,
    ToolNotFoundError,
)
from devservices.exports import KAFKA_BOOTSTRAP_SERVERS
from devservices.kafka_config import (
    BROKER_SETTINGS,
    CONTROLLER,
    JVM_HEAP_OPTS,
    PLAINTEXT,
    KafkaLayout,
    bootstrap_address,
    render_properties,
    server_properties,
)
from devservices.kafka_probe import answers
from devservices.maven import LOG4J_CONFIG_PATH, ensure_jars
from devservices.ports import stable_ports
from devservices.processes import (
    is_alive,
    is_service_process,
    spawn_detached,
    tail,
    terminate,
)
from devservices.state import (
    clear_env,
    load_ports,
    locked,
    read_pid,
    resolve_state_dir,
    write_env,
    write_pid,
)
from devservices.status import ServiceStatus

__all__ = ["BROKER_SETTINGS", "JVM_HEAP_OPTS", "ensure_running", "status", "stop"]

log = logging.getLogger(__name__)

SERVICE = "kafka"
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
_POLL_S = 0.5
_BROKER_MAIN = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"


def external_bootstrap() -> str | None:
    """``$KAFKA_BOOTSTRAP_SERVERS`` when the environment already names a broker."""
    return os.environ.get(KAFKA_BOOTSTRAP_SERVERS) or None


def ensure_running(state_dir: Path | None = None, timeout_s: float = READY_TIMEOUT_S) -> str:
    """Reuse the broker of ``state_dir`` if it answers, else start it; return its bootstrap."""
    state_dir = resolve_state_dir(state_dir)
    layout = KafkaLayout.under(state_dir)
    with locked(layout.lock_file):
        pid = _running_pid(layout)
        if pid is None:
            address = _start(layout, timeout_s)
        else:
            address = _saved_address(layout)
            _wait_until_ready(layout, pid, address, timeout_s)
            log.info("kafka reused pid=%d bootstrap=%s", pid, address)
        write_env(state_dir, SERVICE, {KAFKA_BOOTSTRAP_SERVERS: address})
    return address


def stop(state_dir: Path | None = None, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop the broker of ``state_dir`` (SIGTERM, then SIGKILL after ``timeout_s``)."""
    state_dir = resolve_state_dir(state_dir)
    layout = KafkaLayout.under(state_dir)
    with locked(layout.lock_file):
        pid = _running_pid(layout)
        if pid is None:
            log.info("kafka not running state=%s", layout.root)
        else:
            log.info("stopping kafka pid=%d", pid)
            started = time.monotonic()
            clean = terminate(pid, timeout_s)
            if is_alive(pid):
                raise ServiceStopError(f"kafka pid {pid} is still alive after SIGKILL")
            log.info(
                "kafka stopped pid=%d clean=%s elapsed_s=%.1f",
                pid,
                clean,
                time.monotonic() - started,
            )
        layout.pid_file.unlink(missing_ok=True)
        clear_env(state_dir, SERVICE)


def status(state_dir: Path | None = None) -> ServiceStatus:
    """The broker's pid, whether it answers metadata requests, and its bootstrap address."""
    layout = KafkaLayout.under(resolve_state_dir(state_dir))
    pid = _running_pid(layout)
    if pid is None:
        return ServiceStatus(SERVICE, layout.root)
    address = _saved_address(layout)
    return ServiceStatus(
        SERVICE,
        layout.root,
        pid=pid,
        answering=answers(address),
        variables={KAFKA_BOOTSTRAP_SERVERS: address},
    )


def _running_pid(layout: KafkaLayout) -> int | None:
    pid = read_pid(layout.pid_file)
    if pid is not None and is_service_process(pid, str(layout.properties)):
        return pid
    return None


def _saved_address(layout: KafkaLayout) -> str:
    ports = load_ports(layout.ports_file)
    if PLAINTEXT not in ports:
        raise DevServiceError(f"{layout.ports_file} is missing; stop kafka and start it again")
    return bootstrap_address(ports)


def _start(layout: KafkaLayout, timeout_s: float) -> str:
    started = time.monotonic()
    java = _java()
    ensure_jars(layout.libs, layout.maven_dir)
    for directory in (layout.data, layout.logs, layout.config):
        directory.mkdir(parents=True, exist_ok=True)
    ports = stable_ports(layout.ports_file, (PLAINTEXT, CONTROLLER))
    layout.properties.write_text(render_properties(server_properties(layout, ports)))
    shutil.copyfile(LOG4J_CONFIG_PATH, layout.log4j_config)
    if not layout.formatted:
        _format_storage(java, layout)
    pid = spawn_detached(
        [*_jvm_command(java, layout), _BROKER_MAIN, str(layout.properties)],
        layout.console_log,
        layout.root,
    )
    write_pid(layout.pid_file, pid)
    address = bootstrap_address(ports)
    log.info("kafka launched pid=%d bootstrap=%s logs=%s", pid, address, layout.logs)
    try:
        _wait_until_ready(layout, pid, address, timeout_s)
    except ServiceStartError:
        terminate(pid, STOP_TIMEOUT_S)
        layout.pid_file.unlink(missing_ok=True)
        raise
    log.info(
        "kafka started pid=%d bootstrap=%s elapsed_s=%.1f",
        pid,
        address,
        time.monotonic() - started,
    )
    return address


def _format_storage(java: str, layout: KafkaLayout) -> None:
    cluster_id = _run_storage_tool(java, layout, "random-uuid").split()[-1]
    log.info("formatting kafka storage cluster_id=%s dir=%s", cluster_id, layout.data)
    _run_storage_tool(java, layout, "format", "-t", cluster_id, "-c", str(layout.properties), "-g")


def _run_storage_tool(java: str, layout: KafkaLayout, *args: str) -> str:
    result = subprocess.run(
        [*_jvm_command(java, layout), _STORAGE_TOOL, *args],
        cwd=layout.root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise ServiceStartError(
            f"kafka StorageTool {args[0]} failed (exit {result.returncode}):\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout


def _jvm_command(java: str, layout: KafkaLayout) -> list[str]:
    return [
        java,
        *JVM_HEAP_OPTS,
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={layout.logs}",
        f"-Dlog4j2.configurationFile={layout.log4j_config}",
        "-cp",
        f"{layout.libs}/*",
    ]


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise ToolNotFoundError("Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre")
    return java


def _wait_until_ready(layout: KafkaLayout, pid: int, address: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not answers(address):
        if not is_alive(pid):
            raise ServiceStartError(
                f"kafka (pid {pid}) exited before answering at {address}\n{_log_tails(layout)}"
            )
        if time.monotonic() >= deadline:
            raise ServiceStartError(
                f"kafka (pid {pid}) did not answer a metadata request at {address} "
                f"within {timeout_s:.0f}s\n{_log_tails(layout)}"
            )
        time.sleep(_POLL_S)


def _log_tails(layout: KafkaLayout) -> str:
    return (
        f"--- {layout.server_log} ---\n{tail(layout.server_log)}\n"
        f"--- {layout.console_log} ---\n{tail(layout.console_log)}"
    )
