//! ProfileDB: an embeddable, columnar customer-profile database.
pub use profiledb_engine as engine;
pub use profiledb_query as query;
