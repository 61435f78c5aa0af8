"""Files staff upload in the console, kept between the preview and its confirmation.

Each upload waits in a folder of its own named by a random token, under the file's own
name (so the import's audit row names `kody-listopad.xlsx`, not the token). A preview
nobody confirmed is abandoned: it is removed after a day, at the next upload and by the
daemon's daily job, so the folder never fills up.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

STAGING = Path(tempfile.gettempdir()) / "empikgo-mailer-uploads"
ABANDONED_AFTER = timedelta(days=1)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # security.new_token()
_NAME_LIMIT = 120


def safe_name(filename: str) -> str:
    """The file's own name without any folder (some browsers send one), control
    characters or a leading dot; a name too long keeps its end (the suffix tells a
    workbook from a CSV to staff reading the audit)."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    return name[-_NAME_LIMIT:] or "plik"


def stage(
    data: bytes, filename: str, token: str, now: datetime, folder: Path | None = None
) -> Path:
    """Keep an upload for its confirmation; abandoned ones are removed first."""
    folder = folder or STAGING
    remove_abandoned(now, folder)
    folder.mkdir(mode=0o700, exist_ok=True)
    place = folder / token
    place.mkdir(mode=0o700)
    path = place / safe_name(filename)
    path.write_bytes(data)
    return path


def staged(token: str, folder: Path | None = None) -> Path | None:
    """The file a preview's token stands for; None when it was loaded, removed, or the
    token is not one of ours."""
    if not _TOKEN.match(token):
        return None
    place = (folder or STAGING) / token
    files = sorted(place.iterdir()) if place.is_dir() else []
    return files[0] if files else None


def discard(path: Path) -> None:
    """Remove an upload once it is loaded or refused (its token's folder with it)."""
    shutil.rmtree(path.parent, ignore_errors=True)


def remove_abandoned(now: datetime, folder: Path | None = None) -> int:
    """Remove uploads older than ABANDONED_AFTER; returns how many. `now` is real time:
    the files are stamped by the real clock, even in a rehearsal."""
    folder = folder or STAGING
    if not folder.is_dir():
        return 0
    cutoff = (now - ABANDONED_AFTER).timestamp()
    removed = 0
    for entry in folder.iterdir():
        try:
            if entry.lstat().st_mtime >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()  # a preview staged by an older version: <token>.txt
        except OSError as exc:  # removed by another worker meanwhile, or not ours to remove
            log.debug("abandoned upload not removed: %s", exc.strerror)
            continue
        removed += 1
    if removed:
        log.info("removed %d abandoned upload(s) older than %s", removed, ABANDONED_AFTER)
    return removed
