"""The throwaway Dovecot lives in the package (the demo starts one too)."""

from empikgo_mailer.rehearsal.dovecot import DovecotServer, DovecotUnavailable

__all__ = ["DovecotServer", "DovecotUnavailable"]
