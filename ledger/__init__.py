"""Pure domain logic of geoledger: event model, canonical encoding and signing, HLC, hash ring,
winner order, configuration models. Standard library, `cryptography`, `rfc8785` and `pydantic`
only: no I/O, no Temporal."""
