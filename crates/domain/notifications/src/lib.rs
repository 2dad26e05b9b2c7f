//! The notifications domain: its business rules and the ports it needs.
