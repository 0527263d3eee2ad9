//! vigil-crawler
