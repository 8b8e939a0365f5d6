//! What the page shows: the running maps and computes with their counters,
//! and the spans of the last seconds per worker. Written by the map and the
//! graph only while the dashboard is on; read by the server twice a second.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use serde_json::{json, Value};

/// How far back the task stream and the busy time reach, in seconds.
pub(super) const WINDOW_S: f64 = 10.0;
/// How long a finished map or compute stays on the page, in seconds.
const KEEP_DONE_S: f64 = 5.0;
/// The most spans kept (the oldest go first), so that a flood of tiny
/// tasks cannot grow the memory of a long run.
const MAX_SPANS: usize = 20_000;

static EPOCH: OnceLock<Instant> = OnceLock::new();
static JOBS: Mutex<Vec<Arc<JobState>>> = Mutex::new(Vec::new());
static SPANS: Mutex<VecDeque<Span>> = Mutex::new(VecDeque::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Seconds since the dashboard's epoch (its own clock: it does not share
/// the trace's).
pub(super) fn now_s() -> f64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_secs_f64()
}

fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One running (or lately finished) map or compute.
struct JobState {
    id: u64,
    kind: &'static str,
    name: &'static str,
    total: u64,
    /// Items (or tasks) done, counted in one lane per worker (modulo
    /// [`LANES`]) so that workers do not contend for one cache line.
    done: [Lane; LANES],
    started: f64,
    /// When it ended (seconds, as `f64` bits); 0 while it runs.
    ended: AtomicU64,
}

/// The lanes of a job's counter of items done.
const LANES: usize = 16;

/// One lane of a job's counter, on a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Lane(AtomicU64);

impl JobState {
    fn done(&self) -> u64 {
        self.done.iter().map(|l| l.0.load(Ordering::Relaxed)).sum()
    }
}

/// Marks its job ended when the last copy of the [`Job`] is dropped.
struct EndOnDrop(Arc<JobState>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0
            .ended
            .store(now_s().max(1e-9).to_bits(), Ordering::Relaxed);
    }
}

/// A map or compute shown on the page while this (and every copy) lives.
#[derive(Clone)]
pub(crate) struct Job(Arc<EndOnDrop>);

/// Registers a map or compute of `total` items or tasks under `name`, when
/// the dashboard is on (one relaxed load when it is off).
#[inline]
pub(crate) fn job(kind: &'static str, name: &'static str, total: usize) -> Option<Job> {
    if !super::enabled() {
        return None;
    }
    Some(register(kind, name, total))
}

#[cold]
fn register(kind: &'static str, name: &'static str, total: usize) -> Job {
    let state = Arc::new(JobState {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        kind,
        name,
        total: total as u64,
        done: Default::default(),
        started: now_s(),
        ended: AtomicU64::new(0),
    });
    let mut jobs = lock(&JOBS);
    prune_jobs(&mut jobs, now_s());
    jobs.push(state.clone());
    Job(Arc::new(EndOnDrop(state)))
}

fn prune_jobs(jobs: &mut Vec<Arc<JobState>>, now: f64) {
    jobs.retain(|j| {
        let ended = f64::from_bits(j.ended.load(Ordering::Relaxed));
        ended == 0.0 || now - ended < KEEP_DONE_S
    });
}

impl Job {
    /// One more item (or task) done.
    #[inline]
    pub(crate) fn inc(&self) {
        let lane = rayon::current_thread_index().unwrap_or(0) % LANES;
        self.0 .0.done[lane].0.fetch_add(1, Ordering::Relaxed);
    }

    /// A task of this compute starting now on this thread: it counts as
    /// done, and joins the task stream, when [`TaskSpan::end`] is called.
    pub(crate) fn task(&self, name: &'static str) -> TaskSpan<'_> {
        TaskSpan {
            job: self,
            name,
            start: now_s(),
        }
    }
}

/// A task of a compute being run: see [`Job::task`].
pub(crate) struct TaskSpan<'a> {
    job: &'a Job,
    name: &'static str,
    start: f64,
}

impl TaskSpan<'_> {
    /// The task ended (`failed`: with a panic or an error).
    pub(crate) fn end(self, failed: bool) {
        self.job.inc();
        push(self.name, "task", self.start, now_s(), 1, failed);
    }
}

/// One span of the task stream: a chunk of a map or a task of a graph.
struct Span {
    name: &'static str,
    cat: &'static str,
    /// The worker: 0 for a thread outside the pool, 1 + index for workers
    /// (as in the trace).
    tid: u32,
    start: f64,
    end: f64,
    items: u32,
    failed: bool,
}

/// Adds a chunk of a map that took `dur_us` microseconds and ended now on
/// this thread: what the trace's chunk calls when it ends. One relaxed load
/// when the dashboard is off.
#[inline]
pub(crate) fn chunk(name: &'static str, cat: &'static str, dur_us: f64, items: usize) {
    if super::enabled() {
        let end = now_s();
        push(name, cat, end - dur_us * 1e-6, end, items, false);
    }
}

#[cold]
fn push(name: &'static str, cat: &'static str, start: f64, end: f64, items: usize, failed: bool) {
    let tid = rayon::current_thread_index().map_or(0, |i| i as u32 + 1);
    let mut spans = lock(&SPANS);
    while spans.len() >= MAX_SPANS || spans.front().is_some_and(|s| end - s.end > WINDOW_S) {
        spans.pop_front();
    }
    spans.push_back(Span {
        name,
        cat,
        tid,
        start,
        end,
        items: items.min(u32::MAX as usize) as u32,
        failed,
    });
}

fn worker_name(tid: u32) -> String {
    if tid == 0 {
        "main".to_string()
    } else {
        format!("worker {}", tid - 1)
    }
}

/// What `/state.json` serves: the jobs, and per worker its spans of the
/// window and its busy fraction.
pub(super) fn snapshot(rank: u32) -> Value {
    let now = now_s();
    let from = now - WINDOW_S;
    let jobs: Vec<Value> = {
        let mut jobs = lock(&JOBS);
        prune_jobs(&mut jobs, now);
        jobs.iter()
            .map(|j| {
                let ended = f64::from_bits(j.ended.load(Ordering::Relaxed));
                let running = ended == 0.0;
                json!({
                    "id": j.id,
                    "kind": j.kind,
                    "name": j.name,
                    "done": j.done(),
                    "total": j.total,
                    "running": running,
                    "elapsed_s": if running { now } else { ended } - j.started,
                })
            })
            .collect()
    };
    // Every worker of the pool has a row, busy or not.
    let mut workers: BTreeMap<u32, (f64, Vec<Value>)> = (0..=rayon::current_num_threads() as u32)
        .map(|t| (t, (0.0, Vec::new())))
        .collect();
    {
        let spans = lock(&SPANS);
        for s in spans.iter().filter(|s| s.end >= from) {
            let row = workers.entry(s.tid).or_default();
            row.0 += s.end - s.start.max(from);
            row.1.push(json!([
                s.start - from,
                s.end - from,
                s.name,
                s.cat,
                s.items,
                s.failed
            ]));
        }
    }
    let window = now.clamp(1e-9, WINDOW_S);
    let workers: Vec<Value> = workers
        .into_iter()
        // The calling thread has a row only when something ran on it.
        .filter(|(tid, row)| *tid != 0 || !row.1.is_empty())
        .map(|(tid, (busy, spans))| {
            json!({
                "tid": tid,
                "name": worker_name(tid),
                "busy": (busy / window).min(1.0),
                "spans": spans,
            })
        })
        .collect();
    json!({
        "rank": rank,
        "window_s": WINDOW_S,
        "now_s": now,
        "threads": rayon::current_num_threads(),
        "jobs": jobs,
        "workers": workers,
    })
}
