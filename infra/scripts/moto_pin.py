"""The pin each emulator fast path keeps on moto's internals: the moto version and the
sha256 of the sources it relies on. A fast path refuses to install on any other moto.
"""

import hashlib
from pathlib import Path

import moto


class MotoVersionMismatch(RuntimeError):
    """The installed moto is not the one a fast path was written against."""


def check(fast_path: str, internals: str, off: str, version: str, sources: dict[str, str]) -> None:
    """Raises MotoVersionMismatch unless moto is `version` with `sources` (path under moto's
    package -> sha256). `fast_path` and `internals` name the module and what it relies on;
    `off` is the variable that starts moto without it."""
    root = Path(moto.__file__).parent
    problems = []
    if moto.__version__ != version:
        problems.append(f"moto {moto.__version__} installed, {version} expected")
    for rel, want in sources.items():
        got = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        if got != want:
            problems.append(f"{root / rel} has sha256 {got}, {want} expected")
    if problems:
        raise MotoVersionMismatch(
            f"infra/scripts/{fast_path} relies on moto's {internals}: "
            + "; ".join(problems)
            + ". Re-check the fast path against that moto (and its differential tests), "
            f"or start moto with {off}=0."
        )
