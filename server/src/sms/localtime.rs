//! Local date and time for messages, from microseconds since the epoch and a fixed UTC offset
//! (mobile-money markets do not observe daylight saving), without a time-zone database.

use mkoba_ledger::Timestamp;

/// `("21/11/26", "14:05")`.
pub fn local_date_time(at: Timestamp, utc_offset_seconds: i32) -> (String, String) {
    let seconds = at.0.div_euclid(Timestamp::MICROS_PER_SECOND) + i64::from(utc_offset_seconds);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    (
        format!("{day:02}/{month:02}/{:02}", year.rem_euclid(100)),
        format!("{:02}:{:02}", of_day / 3_600, (of_day % 3_600) / 60),
    )
}

/// `2026-11-21T11:05:00Z`: RFC 3339 in UTC, for APIs.
pub fn rfc3339_utc(at: Timestamp) -> String {
    let seconds = at.0.div_euclid(Timestamp::MICROS_PER_SECOND);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3_600,
        (of_day % 3_600) / 60,
        of_day % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_local_time() {
        // 2026-11-21T11:05:00Z is 14:05 in Nairobi (UTC+3).
        let at = Timestamp(1_795_259_100 * 1_000_000);
        assert_eq!(
            local_date_time(at, 3 * 3600),
            ("21/11/26".into(), "14:05".into())
        );
        assert_eq!(
            local_date_time(Timestamp(0), 0),
            ("01/01/70".into(), "00:00".into())
        );
        // Crossing midnight with the offset moves the date.
        let late = Timestamp((1_795_259_100 + 10 * 3600) * 1_000_000);
        assert_eq!(
            local_date_time(late, 3 * 3600),
            ("22/11/26".into(), "00:05".into())
        );
        assert_eq!(
            local_date_time(Timestamp(951_782_400 * 1_000_000), 0).0,
            "29/02/00"
        );
    }
}
