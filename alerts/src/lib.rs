//! vigil-alerts
