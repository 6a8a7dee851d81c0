//! Integration tests, one binary: each capability is a module.

mod record;
