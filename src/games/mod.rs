//! games: filled in by its issue.
