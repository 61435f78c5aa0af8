"""`python -m empikgo_mailer` runs the staff command line."""

from empikgo_mailer.entrypoints.cli import main

raise SystemExit(main())
