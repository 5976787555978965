#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mkoba_fuzz::checks::phone_parse(data));
