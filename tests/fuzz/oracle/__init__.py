"""The parse/validate path as it was before decoding moved to msgspec (commit 292c3a8), kept
verbatim as the oracle of the differential fuzz tests: the new path must accept and reject
exactly what this one does, with the same reason code. Do not "fix" these files; a behaviour
change of the product is made in the product and then recorded here on purpose."""
