"""Pure rules of the practice: no I/O, no database, unit-tested on their own."""
