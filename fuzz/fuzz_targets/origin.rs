//! Fuzz target: any text as an http origin grant and as a request URL. Parsing must never
//! panic, and a grant must cover the URL of its own origin.
#![no_main]

use airlock_manifest::capabilities::Origin;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(grant) = Origin::parse_grant(text) {
            if !grant.host.starts_with('*') {
                let url = format!("{grant}/some/path");
                if let Ok(request) = Origin::of_url(&url) {
                    assert!(grant.covers(&request), "{grant} does not cover {url}");
                }
            }
        }
        let _ = Origin::of_url(text);
    }
});
