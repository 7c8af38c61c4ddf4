//! Fuzz target: any bytes as a manifest. The parser must never panic, and an error must name
//! the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let path = std::path::Path::new("fuzz.toml");
        let builtins = ["detect", "decide", "build", "authenticate", "upload", "status"];
        match airlock_manifest::manifest::parse(path, text, Some(std::path::Path::new(".")), &builtins) {
            Ok(mut m) => {
                let _ = m.resolve();
            }
            Err(e) => assert_eq!(e.file, path),
        }
    }
});
