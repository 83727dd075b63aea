//! End-to-end tests of hookline live in `tests/`; this library holds their shared helpers.
