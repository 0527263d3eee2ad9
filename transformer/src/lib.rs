//! Vigil's `transformer` sentiment backend (issue 5). Work in progress.
