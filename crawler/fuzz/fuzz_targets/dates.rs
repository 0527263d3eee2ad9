//! `parse_date` over arbitrary text (valid UTF-8 as is, anything else lossily, and each
//! line on its own), plus `epoch`, `parse_rating` and `parse_count`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_crawler::{epoch, parse_count, parse_date, parse_rating};
use vigil_crawler_fuzz::{check, fetched_at};

fn all(text: &str) {
    let now = fetched_at();
    check("parse_date", || {
        let _ = parse_date(text, now);
    });
    check("parse_rating", || {
        let _ = parse_rating(text);
    });
    check("parse_count", || {
        let _ = parse_count(text);
    });
}

fuzz_target!(|data: &[u8]| {
    match std::str::from_utf8(data) {
        Ok(text) => {
            all(text);
            if text.contains('\n') {
                for line in text.lines() {
                    all(line);
                }
            }
        }
        Err(_) => all(&String::from_utf8_lossy(data)),
    }
    if let Some(bytes) = data.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
        let value = f64::from_le_bytes(bytes);
        check("epoch", || {
            let _ = epoch(value);
        });
    }
});
