//! Issue 13: a program whose two maps overlap (one function, called from
//! two threads at once) and whose compute follows them within
//! microseconds gives three sections in the report: the runtime gives
//! each call an id that its events carry.

use parallel_runtime::prelude::*;

#[test]
fn two_overlapping_maps_and_a_compute_are_three_sections() {
    let dir = std::env::temp_dir().join(format!("report-calls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("calls.json");
    let trace = parallel_runtime::trace::start(&path).unwrap();
    let square = map_fn("square", |x: u64| {
        std::thread::sleep(std::time::Duration::from_micros(200));
        x * x
    });
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| square.map(0..40u64));
        let b = s.spawn(|| square.map(0..40u64));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a, b);
    let parts: Vec<_> = (0..4u64)
        .map(|i| delayed_fn("part", |x: u64| x + 1).call(i))
        .collect();
    let sum = delayed_fn("sum", |xs: Vec<u64>| xs.iter().sum::<u64>()).call(parts);
    assert_eq!(sum.compute().unwrap(), 10);
    drop(trace);
    let events = parallel_runtime::trace::read(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let calls: std::collections::BTreeSet<u64> = events
        .iter()
        .filter(|e| e.ph == "X")
        .map(|e| {
            e.args["call"]
                .as_u64()
                .expect("every span has its call's id")
        })
        .collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    let summary = parallel_report::summarize(&events);
    assert_eq!(summary.sections, 3);
    let html = parallel_report::render_html("calls.json", &events);
    assert_eq!(html.matches("<section class=\"run\"").count(), 3);
}
