//! Integration tests of the `profiledb` facade: one binary, one module per concern.

mod util;

mod roundtrip;
mod smoke;
