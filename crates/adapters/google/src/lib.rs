//! Google adapter.
