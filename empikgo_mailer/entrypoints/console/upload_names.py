"""An uploaded file handled under its own name: the audit trail then records "pula
listopad.xlsx", not the random token the file waits under between preview and confirmation."""

from __future__ import annotations

import os
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from starlette.datastructures import FormData, UploadFile

MAX_NAME = 120  # characters: a name, not a path; long enough for any librarian's file


def upload_name(form: FormData, name: str) -> str:
    """The name the browser gave the uploaded file, cleaned (see `own_name`)."""
    upload = form.get(name)
    return clean_name(upload.filename or "") if isinstance(upload, UploadFile) else ""


def clean_name(name: str) -> str:
    """The last part of the name only (old browsers send a whole Windows path), without
    control characters; "" when nothing usable is left."""
    last = PurePosixPath(name.replace("\\", "/")).name
    printable = "".join(c for c in last if unicodedata.category(c)[0] != "C").strip()
    if printable in ("", ".", ".."):
        return ""
    stem, suffix = os.path.splitext(printable)
    return stem[: MAX_NAME - len(suffix[:16])] + suffix[:16]


@contextmanager
def own_name(path: Path, name: str) -> Iterator[Path]:
    """`path` seen under `name` (a hard link in a private directory next to the staging
    folder: same file system, and never among the staged files that expire) for as long as
    the import runs; the staged file itself stays where it is, for its caller to remove.
    Without a usable name, or where a link cannot be made, the staged path as it is."""
    cleaned = clean_name(name)
    if not cleaned:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="empikgo-upload-", dir=path.parent.parent) as folder:
        named = Path(folder) / cleaned
        try:
            os.link(path, named)
        except OSError:
            named = path
        yield named
