//! ProfileDB query layer: standard SQL compiled to bitmap algebra over the engine.
