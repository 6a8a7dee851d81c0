//! bodies: filled in by its issue.
