"""Run the installed `opdbus` command as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

OPDBUS = shutil.which("opdbus", path=str(Path(sys.executable).parent)) or "opdbus"


def opdbus(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
    return subprocess.run(
        [OPDBUS, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
