//! Tracing while other threads keep recording: every chunk of a traced map
//! reaches the file when the trace stops right after the map, though the
//! pool's threads are filling their buffers with other maps' chunks (a
//! full buffer is out of its thread's slot while that thread serializes
//! it, and may hold the traced map's events).

use std::sync::atomic::{AtomicBool, Ordering};

use parallel_runtime::prelude::*;

#[parallel_map]
fn probe(x: u32) -> u32 {
    x
}

#[parallel_map]
fn noise(x: u64) -> u64 {
    x.wrapping_mul(3)
}

/// Rounds of: start a trace, a map of 300 one-item chunks, stop, read. Other
/// threads run maps of one-item chunks all the while, so the pool's
/// buffers fill (and are handed over) during and right after each round's map.
#[test]
fn every_chunk_arrives_while_other_maps_fill_the_buffers() {
    if parallel_tests::backend_forced_away_from(
        "every_chunk_arrives_while_other_maps_fill_the_buffers",
        &["threads"],
    ) {
        return;
    }
    let rounds: usize = std::env::var("TRACE_HANDOVER_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40);
    let path = std::env::temp_dir().join(format!("trace-handover-{}.json", std::process::id()));
    let done = AtomicBool::new(false);
    let one_item_chunks = MapOptions::new().schedule(Schedule::Dynamic);
    /// Stops the other threads however the rounds end (a failed read too).
    struct Done<'a>(&'a AtomicBool);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    let out = noise::map_with(&one_item_chunks, 0..2_000u64);
                    assert_eq!(out.len(), 2_000);
                }
            });
        }
        let _done = Done(&done);
        let mut lost = Vec::new();
        for round in 0..rounds {
            let guard = parallel_runtime::trace::start(&path).expect("trace file");
            let out = probe::map_with(&one_item_chunks, 0..300u32);
            drop(guard);
            assert_eq!(out, (0..300).collect::<Vec<_>>());
            let events = parallel_runtime::trace::read(&path).expect("trace");
            let mut items: Vec<u64> = events
                .iter()
                .filter(|e| e.name == "probe" && e.cat == "map")
                .filter_map(|e| e.args.get("first_item").and_then(|v| v.as_u64()))
                .collect();
            items.sort_unstable();
            if items != (0..300).collect::<Vec<u64>>() {
                lost.push((round, 300 - items.len()));
            }
        }
        let _ = std::fs::remove_file(&path);
        assert!(
            lost.is_empty(),
            "(round, chunks lost) of {rounds} rounds: {lost:?}"
        );
    });
}
