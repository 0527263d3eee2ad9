//! Vigil's `learned` sentiment model (issue 5). Work in progress.
