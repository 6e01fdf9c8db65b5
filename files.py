"""Writing a file so that no reader, and no crash, ever leaves half of it: `atomic_write`.

Every file the app replaces goes through here: the saved model, the parsed-ratings cache, the
MovieLens import's two CSVs and the ARNs written into .env. It imports nothing of the project.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_write(
    path: str | Path, mode: str = "w", *, private: bool = False, **open_args: Any
) -> Iterator[IO[Any]]:
    """Write `path` through a temporary file beside it, moved into place only when complete.

    A reader sees the old file or the new one, never a mixture; if the block raises, the old
    file stays as it was and the temporary one is removed. A replaced file keeps its
    permissions; a new one gets the usual ones (the umask's), or the owner's only if `private`.
    """
    path = Path(path)
    # Hidden and unique: a glob for the real files never sees it, and two writers never share it.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o600 if private else 0o666)
    try:
        with open(descriptor, mode, **open_args) as handle:
            yield handle
        if path.exists():
            shutil.copymode(path, temporary)
        os.replace(temporary, path)  # atomic on POSIX and Windows, within one directory
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
