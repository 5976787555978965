#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mkoba_fuzz::checks::money_parse(data));
