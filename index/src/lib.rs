//! vigil-index
