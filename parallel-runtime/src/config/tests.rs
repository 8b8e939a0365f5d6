//! The configuration's unit tests: parsing, limits and their messages.

use std::time::Duration;

use super::env::{check_thread_count, parse_hang_timeout};
use super::limits::max_threads;
use super::*;

#[test]
fn backend_parses_and_rejects() {
    assert_eq!("serial".parse::<Backend>(), Ok(Backend::Serial));
    assert_eq!(" Threads ".parse::<Backend>(), Ok(Backend::Threads));
    let err = "gpu".parse::<Backend>().unwrap_err().to_string();
    assert!(err.contains("\"gpu\"") && err.contains("`serial`"), "{err}");
}

#[test]
fn thread_counts_beyond_64_per_core_or_4096_are_refused() {
    assert_eq!(max_threads(2), 128);
    assert_eq!(max_threads(16), 1024);
    assert_eq!(max_threads(1000), MAX_THREADS);
    assert!(check_thread_count(Some(ENV_NUM_THREADS), 128, 2).is_ok());
    let err = check_thread_count(Some(ENV_NUM_THREADS), 99_999, 2)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid value \"99999\" in environment variable PARALLEL_NUM_THREADS:")
            && err.contains("at most 128 threads")
            && err.contains("has 2 available")
            && err.contains("4096"),
        "{err}"
    );
    let err = set_num_threads(usize::MAX).unwrap_err().to_string();
    assert!(err.starts_with("invalid number of threads "), "{err}");
}

#[test]
fn hang_timeout_parses_seconds_and_zero_turns_it_off() {
    let t = parse_hang_timeout(None).unwrap();
    assert_eq!((t.after, t.explicit), (Some(DEFAULT_HANG_TIMEOUT), false));
    let t = parse_hang_timeout(Some("2.5")).unwrap();
    assert_eq!(t.after, Some(Duration::from_millis(2500)));
    assert_eq!(parse_hang_timeout(Some(" 0 ")).unwrap().after, None);
    for bad in ["-1", "soon", "inf", "NaN", "1e30"] {
        let err = parse_hang_timeout(Some(bad)).unwrap_err().to_string();
        assert!(
            err.contains("PARALLEL_HANG_TIMEOUT") && err.contains("`0` to turn"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn schedule_parses_and_rejects() {
    assert_eq!("guided".parse::<Schedule>(), Ok(Schedule::Guided));
    assert!("auto".parse::<Schedule>().is_err());
}
