//! Firebase adapter.
