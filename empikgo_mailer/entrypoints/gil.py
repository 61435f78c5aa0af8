"""How long a thread holding the GIL keeps another waiting for it.

Python's default is 5 ms. A thread doing Python work (parsing a fetch batch of mail, a
pool file's codes) then holds back, 5 ms at a time, a thread that waits on the network
or the database: each of its round trips ends in a wait for the GIL. Measured: the web
app's claims p99 during a librarian's upload was 150 ms at 5 ms and 60 ms at 1 ms
(bench.legimi_http --staff, SQLite); in a month-start burst under load, the decide
runner decided its first 20 requests 0.38 s after the collect runner stored its first
batch, by which time the collector had stored 1,000.
"""

import sys

GIL_SWITCH_SECONDS = 0.001


def hand_over_the_gil_sooner() -> None:
    """For a process whose threads share the work (the web workers, the mail pass)."""
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
