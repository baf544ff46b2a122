"""What a client keeps on disk between runs (`cache_dir`): the portal's public keys, and the
last lease of each fingerprint, so a client started while the portal is unreachable can still
prove, offline, that it is licensed until its valid-until.

Nothing here is secret: the keys are public and a lease is signed (editing it breaks the
signature). Files are written whole (to a temporary file, then renamed), so a reader never
sees half of one; a cache that cannot be read or written is worked around, not fatal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger("overdraft_client")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


class DiskCache:
    """JSON files in `directory`, named by the portal's URL (several portals may share it)."""

    def __init__(self, directory: str | os.PathLike[str], base_url: str) -> None:
        self.directory = Path(directory)
        self.base_url = base_url

    def jwks_path(self) -> Path:
        return self.directory / f"jwks-{_digest(self.base_url)}.json"

    def lease_path(self, fingerprint: str) -> Path:
        return self.directory / f"lease-{_digest(self.base_url, fingerprint)}.json"

    def read(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("overdraft_client: ignoring unreadable cache file %s: %s", path, exc)
            return None

    def write(self, path: Path, value: Any) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            with os.fdopen(handle, "w") as file:
                json.dump(value, file)
            os.replace(temporary, path)
        except OSError as exc:
            logger.warning("overdraft_client: cannot write cache file %s: %s", path, exc)

    def delete(self, path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("overdraft_client: cannot delete cache file %s: %s", path, exc)
