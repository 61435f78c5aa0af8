"""Pure rules of the library: no I/O, standard library only."""
