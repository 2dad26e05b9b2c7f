//! Integration tests of the server: the real application on port 0 against real PostgreSQL and
//! Redis (one binary, so the link step happens once).

mod architecture;
mod docs;
mod migrations;
mod platform;
