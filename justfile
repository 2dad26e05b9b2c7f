# Everyday tasks for the Medico24 backend. Each one is a thin wrapper: the work is done by
# `cargo xtask` (see `cargo xtask --help`), so nothing here is required to build or test.

set positional-arguments

# List the recipes
default:
    @just --list

# Start PostgreSQL/Redis if needed, migrate, seed and serve on http://127.0.0.1:8000 (--port, --pharmacies, --release)
run *args:
    cargo xtask run "$@"

# Every test: nextest, then schemathesis against a live server (--no-schemathesis, --only-schemathesis, -- nextest args)
test *args:
    cargo xtask test "$@"

# Load-test the release server with wrk and update docs/benchmarks.md (--duration, --connections, ...)
bench *args:
    cargo xtask bench "$@"

# Migrate and seed a database (--pharmacies N, --database-url URL)
seed *args:
    cargo xtask seed "$@"

# Write the OpenAPI document to docs/openapi.json
openapi:
    cargo xtask openapi

# Check (and start) PostgreSQL with PostGIS and Redis only
services:
    cargo xtask services

# Format every crate
fmt:
    cargo fmt --all

# Clippy on every crate and target, warnings as errors
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# What CI runs: fmt check, lint, test
ci *args:
    .ci/run "$@"
