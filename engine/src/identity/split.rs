//! Splits (stub).
