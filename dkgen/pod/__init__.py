"""Files dkgen ships into pods (through ConfigMaps), kept here as code so they are linted,
type-checked and tested like the rest; nothing in dkgen imports them."""
