"""The clock every loop and door is given, so that any moment can be replayed (`--now`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], datetime]
