"""The fast reading of plain From values agrees with the standard library's registry."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from empikgo_mailer.domain.addresses import fast_address, registry_address

PIECES = st.sampled_from(
    [*"abcXYZ019 .@<>\"(),;:\\=?-_'+ł", "Łukasz", "jan", "example.com", "=?utf-8?q?x?=", "\t"]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(PIECES, max_size=12).map("".join))
@example("Jan Kowalski <jan@example.com>")
@example("jan@example.com")
@example("reader@example.com <evil@x.test>")
@example("Łukasz Żak <łukasz@przykład.pl>")
@example(" <jan@example.com> ")
def test_the_fast_path_answers_only_what_the_registry_would(raw: str) -> None:
    fast = fast_address(raw)
    if fast is not None:
        assert fast == registry_address(raw)
