//! net: filled in by its issue.
