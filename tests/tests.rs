//! Integration tests of the `profiledb` facade: one binary, one module per concern.

mod util;

mod concurrency;
mod corruption;
mod engine_bugs;
mod erasure;
mod fault_injection;
mod model;
mod roundtrip;
mod smoke;
mod spec_decode;
