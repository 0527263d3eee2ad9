//! vigil-classifier
