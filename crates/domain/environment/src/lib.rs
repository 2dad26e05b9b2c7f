//! The environment domain: its business rules and the ports it needs.
