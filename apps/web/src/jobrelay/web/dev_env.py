"""Where ``jobrelay dev`` leaves its addresses, so the CLI in another terminal finds them.

``jobrelay dev`` takes the default ports when they are free; when one is
not, its servers listen elsewhere and a second terminal could not guess
where. So it writes ``<data dir>/env`` (``KEY=value`` lines: ``REDIS_URL``,
``TEMPORAL_ADDRESS``, ``JOBRELAY_URL``) while it runs and removes it when
it stops; the CLI reads ``.jobrelay-dev/env`` under the current directory
(``JOBRELAY_DEV_DIR``, see ``CliSettings``) for whatever the environment
does not set.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, MutableMapping
from pathlib import Path

FILE_NAME = "env"
# The ports the settings default to (REDIS_URL, TEMPORAL_ADDRESS, JOBRELAY_WEB_PORT).
DEFAULT_PORTS = {"redis": 6379, "temporal": 7233, "web": 8000}


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def write(data_dir: Path, values: Mapping[str, str]) -> Path:
    """Write the dev stack's addresses; returns the file's path."""
    path = data_dir / FILE_NAME
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def remove(data_dir: Path) -> None:
    """Forget the addresses of a stack that stopped."""
    (data_dir / FILE_NAME).unlink(missing_ok=True)


def load_into(environ: MutableMapping[str, str], data_dir: Path) -> Path | None:
    """Fill ``environ`` from the file a dev stack running in ``data_dir`` wrote.

    Never over what ``environ`` already sets. Returns the file read, or None
    when there is none.
    """
    path = data_dir / FILE_NAME
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key and key not in environ:
            environ[key] = value
    return path
