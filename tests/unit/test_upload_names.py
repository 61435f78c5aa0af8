"""An uploaded file's own name, as the audit trail records it: the last part of what the
browser sent, printable, bounded; the staged file itself is left where it is."""

from __future__ import annotations

from pathlib import Path

from empikgo_mailer.entrypoints.console.upload_names import MAX_NAME, clean_name, own_name


def test_a_name_is_its_last_part_printable_and_bounded() -> None:
    assert clean_name("Pula listopad.xlsx") == "Pula listopad.xlsx"
    assert clean_name("C:\\Users\\anna\\Pulpit\\pula.csv") == "pula.csv"
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("zła\x00\nnazwa.csv") == "złanazwa.csv"
    assert clean_name("..") == clean_name("") == clean_name("\x07") == ""
    long = clean_name("a" * 500 + ".xlsx")
    assert len(long) == MAX_NAME and long.endswith(".xlsx")


def test_the_file_is_seen_under_its_own_name_only_while_it_is_read(tmp_path: Path) -> None:
    staging = tmp_path / "uploads"
    staging.mkdir()
    staged = staging / "TOKEN.txt"
    staged.write_text("KOD-1\n", encoding="utf-8")
    with own_name(staged, "Pula W63.txt") as named:
        assert named.name == "Pula W63.txt" and named.read_text(encoding="utf-8") == "KOD-1\n"
    assert not named.exists() and staged.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads"]
    assert sorted(p.name for p in staging.iterdir()) == ["TOKEN.txt"]
    with own_name(staged, "") as unnamed:
        assert unnamed == staged
