//! Diesel table definitions (generated from the migrations).
