"""One local KRaft broker's process: formatting its storage, launching it, waiting until it
answers, recognising and stopping it. Shared by the plain broker (:mod:`devservices.kafka`)
and the one that refuses strangers (:mod:`devservices.kafka_secure`)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from devservices.errors import ServiceStartError, ServiceStopError, ToolNotFoundError
from devservices.kafka_config import JVM_HEAP_OPTS, KafkaLayout, render_properties
from devservices.kafka_probe import answers
from devservices.maven import LOG4J_CONFIG_PATH, ensure_jars
from devservices.processes import is_alive, is_service_process, spawn_detached, tail, terminate
from devservices.state import read_pid, write_pid

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0
_POLL_S = 0.5
_BROKER_MAIN = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"


def running_pid(layout: KafkaLayout) -> int | None:
    """The pid of the broker of ``layout`` while it runs."""
    pid = read_pid(layout.pid_file)
    if pid is not None and is_service_process(pid, str(layout.properties)):
        return pid
    return None


def launch(
    layout: KafkaLayout,
    properties: Mapping[str, str],
    address: str,
    timeout_s: float,
    format_options: Sequence[str] = (),
    client_options: Mapping[str, Any] | None = None,
) -> int:
    """Write ``properties``, format the storage once (with ``format_options``), start the
    broker and wait until it answers at ``address`` (as ``client_options`` connect)."""
    started = time.monotonic()
    java = java_binary()
    ensure_jars(layout.libs, layout.maven_dir)
    for directory in (layout.data, layout.logs, layout.config):
        directory.mkdir(parents=True, exist_ok=True)
    layout.properties.write_text(render_properties(properties))
    layout.properties.chmod(0o600)
    shutil.copyfile(LOG4J_CONFIG_PATH, layout.log4j_config)
    if not layout.formatted:
        _format_storage(java, layout, format_options)
    pid = spawn_detached(
        [*_jvm_command(java, layout), _BROKER_MAIN, str(layout.properties)],
        layout.console_log,
        layout.root,
    )
    write_pid(layout.pid_file, pid)
    log.info("%s launched pid=%d bootstrap=%s logs=%s", layout.name, pid, address, layout.logs)
    try:
        wait_until_ready(layout, pid, address, timeout_s, client_options)
    except ServiceStartError:
        terminate(pid, STOP_TIMEOUT_S)
        layout.pid_file.unlink(missing_ok=True)
        raise
    log.info("%s started pid=%d bootstrap=%s elapsed_s=%.1f", layout.name, pid, address,
             time.monotonic() - started)
    return pid


def wait_until_ready(
    layout: KafkaLayout,
    pid: int,
    address: str,
    timeout_s: float,
    client_options: Mapping[str, Any] | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not answers(address, client_options=client_options):
        if not is_alive(pid):
            raise ServiceStartError(
                f"{layout.name} (pid {pid}) exited before answering at {address}\n"
                f"{_log_tails(layout)}"
            )
        if time.monotonic() >= deadline:
            raise ServiceStartError(
                f"{layout.name} (pid {pid}) did not answer a metadata request at {address} "
                f"within {timeout_s:.0f}s\n{_log_tails(layout)}"
            )
        time.sleep(_POLL_S)


def stop_broker(layout: KafkaLayout, timeout_s: float) -> None:
    """SIGTERM the broker of ``layout`` (SIGKILL after ``timeout_s``) if it runs."""
    pid = running_pid(layout)
    if pid is None:
        log.info("%s not running state=%s", layout.name, layout.root)
    else:
        log.info("stopping %s pid=%d", layout.name, pid)
        started = time.monotonic()
        clean = terminate(pid, timeout_s)
        if is_alive(pid):
            raise ServiceStopError(f"{layout.name} pid {pid} is still alive after SIGKILL")
        log.info("%s stopped pid=%d clean=%s elapsed_s=%.1f", layout.name, pid, clean,
                 time.monotonic() - started)
    layout.pid_file.unlink(missing_ok=True)


def _format_storage(java: str, layout: KafkaLayout, options: Sequence[str]) -> None:
    cluster_id = _run_storage_tool(java, layout, "random-uuid").split()[-1]
    log.info("formatting kafka storage cluster_id=%s dir=%s", cluster_id, layout.data)
    _run_storage_tool(
        java, layout, "format", "-t", cluster_id, "-c", str(layout.properties), "-g", *options
    )


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
        shown = " ".join(arg for arg in args if "password=" not in arg)
        raise ServiceStartError(
            f"kafka StorageTool {shown} failed (exit {result.returncode}):\n"
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


def java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise ToolNotFoundError("Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre")
    return java


def _log_tails(layout: KafkaLayout) -> str:
    return (
        f"--- {layout.server_log} ---\n{tail(layout.server_log)}\n"
        f"--- {layout.console_log} ---\n{tail(layout.console_log)}"
    )
