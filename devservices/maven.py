"""Kafka's runtime jars, resolved from Maven Central with the POM shipped in ``maven/``."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from devservices.errors import DevServiceError, ToolNotFoundError
from devservices.processes import tail

log = logging.getLogger(__name__)

MAVEN_DIR = Path(__file__).resolve().parent / "maven"
POM_PATH = MAVEN_DIR / "pom.xml"
LOG4J_CONFIG_PATH = MAVEN_DIR / "log4j2.yaml"
DEPENDENCY_GOAL = "dependency:copy-dependencies"
_MARKER = ".complete"
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def kafka_version(pom: Path = POM_PATH) -> str:
    """The Apache Kafka version the POM resolves (its ``kafka.version`` property)."""
    root = ET.parse(pom).getroot()  # noqa: S314 - the project's own POM
    version = root.findtext("m:properties/m:kafka.version", namespaces=_POM_NS)
    if not version:
        raise DevServiceError(f"{pom} has no <kafka.version> property")
    return version.strip()


def ensure_jars(libs: Path, work_dir: Path) -> None:
    """Copy the broker's runtime jars into ``libs`` unless this POM already put them there."""
    fingerprint = hashlib.sha256(POM_PATH.read_bytes()).hexdigest()
    marker = libs / _MARKER
    if marker.is_file() and marker.read_text().strip() == fingerprint:
        log.debug("kafka jars present libs=%s", libs)
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolNotFoundError(
            "Apache Maven (mvn) is needed to fetch Kafka: apt-get install maven"
        )
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(POM_PATH, work_dir / "pom.xml")
    maven_log = work_dir / "maven.log"
    log.info("resolving kafka jars with maven version=%s libs=%s", kafka_version(), libs)
    started = time.monotonic()
    with maven_log.open("wb") as output:
        result = subprocess.run(
            [
                mvn,
                "--batch-mode",
                "--no-transfer-progress",
                "-f",
                str(work_dir / "pom.xml"),
                f"-Dlibs.dir={libs}",
                "-DincludeScope=runtime",
                DEPENDENCY_GOAL,
            ],
            cwd=work_dir,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise DevServiceError(
            f"maven could not resolve Kafka (exit {result.returncode}); "
            f"see {maven_log}:\n{tail(maven_log)}"
        )
    marker.write_text(f"{fingerprint}\n")
    log.info(
        "kafka jars ready jars=%d elapsed_s=%.1f",
        len(list(libs.glob("*.jar"))),
        time.monotonic() - started,
    )
