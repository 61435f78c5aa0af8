"""Everything that touches the outside world: database, files, mail, holidays."""
