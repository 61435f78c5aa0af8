"""empikgo-mailer: hands out a public library's monthly e-book codes."""

__version__ = "0.1.0"
