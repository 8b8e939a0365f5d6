//! What a trace holds: the events as the file has them ([`Event`]), the
//! compact form each thread records them in until they are written
//! ([`Raw`]), and who recorded them (the rank and the thread).

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};

static RANK: AtomicU32 = AtomicU32::new(0);

/// One complete event ("ph": "X").
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// What ran: the function's name, or the operation's.
    pub name: String,
    /// `map`, `reduce`, `task` or `mpi`.
    pub cat: String,
    /// Always `"X"` (complete event) for spans, `"M"` for metadata.
    pub ph: String,
    /// Start, in microseconds since the trace's epoch.
    pub ts: f64,
    /// Duration in microseconds.
    #[serde(default)]
    pub dur: f64,
    /// The rank (0 outside MPI).
    pub pid: u32,
    /// The thread: 0 for a thread outside the pool, 1 + index for workers.
    pub tid: u32,
    /// Details: items of a chunk, key and dependencies of a task, bytes of
    /// a message.
    #[serde(default)]
    pub args: serde_json::Map<String, serde_json::Value>,
}

/// One complete event as a thread records it: no allocation for a chunk
/// of a map or a message-passing operation. It becomes JSON (the fields of
/// an [`Event`], in the same order) when its batch is written.
#[derive(Debug)]
pub(crate) struct Raw {
    /// What ran: the function's name, or the operation's (borrowed for
    /// ours, which are all `'static`).
    pub(crate) name: Cow<'static, str>,
    /// `map`, `reduce`, `task`, `transfer` or `mpi`.
    pub(crate) cat: &'static str,
    /// Start, in microseconds since the trace's epoch.
    pub(crate) ts: f64,
    /// Duration in microseconds.
    pub(crate) dur: f64,
    /// The rank.
    pub(crate) pid: u32,
    /// The thread (see [`thread_name`]).
    pub(crate) tid: u32,
    /// The details.
    pub(crate) args: Args,
}

/// The details of a [`Raw`] event.
#[derive(Debug)]
pub(crate) enum Args {
    /// None (a message-passing operation).
    None,
    /// The items a chunk of a map ran, and the id of its call (0: none).
    Items {
        call: u64,
        first: usize,
        last: usize,
        items: usize,
    },
    /// Anything else (a task's key and dependencies).
    Map(Box<serde_json::Map<String, serde_json::Value>>),
}

impl Raw {
    /// Appends the event as JSON (the fields of an [`Event`], in the same
    /// order), written by hand: this runs once per event, and serde's
    /// shortest-round-trip floats cost more than the rest of recording.
    /// Times are written in microseconds with three decimals (nanoseconds,
    /// the clock's own resolution).
    pub(super) fn write_json(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        out.extend_from_slice(b"{\"name\":");
        write_str(out, &self.name)?;
        out.extend_from_slice(b",\"cat\":");
        write_str(out, self.cat)?;
        out.extend_from_slice(b",\"ph\":\"X\",\"ts\":");
        write_us(out, self.ts)?;
        out.extend_from_slice(b",\"dur\":");
        write_us(out, self.dur)?;
        out.extend_from_slice(b",\"pid\":");
        write_uint(out, self.pid.into());
        out.extend_from_slice(b",\"tid\":");
        write_uint(out, self.tid.into());
        out.extend_from_slice(b",\"args\":");
        match &self.args {
            Args::None => out.extend_from_slice(b"{}"),
            // In the order a `serde_json::Map` of the same keys has.
            Args::Items {
                call,
                first,
                last,
                items,
            } => {
                out.push(b'{');
                if *call != 0 {
                    out.extend_from_slice(b"\"call\":");
                    write_uint(out, *call);
                    out.push(b',');
                }
                for (key, n) in [
                    (&b"\"first_item\":"[..], *first),
                    (b",\"items\":", *items),
                    (b",\"last_item\":", *last),
                ] {
                    out.extend_from_slice(key);
                    write_uint(out, n as u64);
                }
                out.push(b'}');
            }
            Args::Map(map) => {
                serde_json::to_writer(&mut *out, map).map_err(std::io::Error::other)?
            }
        }
        out.push(b'}');
        Ok(())
    }
}

/// A JSON string: as it is when nothing in it needs escaping (our names).
fn write_str(out: &mut Vec<u8>, s: &str) -> std::io::Result<()> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, s).map_err(std::io::Error::other)
    }
}

/// Microseconds with three decimals.
fn write_us(out: &mut Vec<u8>, us: f64) -> std::io::Result<()> {
    // Rounded to the nanosecond (`+ 0.5` then truncated: `f64::round` is
    // a call into the maths library, and this runs twice per event).
    let ns = us * 1e3 + 0.5;
    if (0.5..1e18).contains(&ns) {
        let ns = ns as u64;
        write_uint(out, ns / 1000);
        let frac = ns % 1000;
        out.extend_from_slice(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
        Ok(())
    } else {
        serde_json::to_writer(out, &us).map_err(std::io::Error::other)
    }
}

/// A whole number in decimal, without `fmt`'s machinery (it runs several
/// times per event): `itoa`, which serde_json writes its numbers with.
fn write_uint(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Sets the rank recorded in events (`pid`), for MPI jobs.
pub fn set_rank(rank: u32) {
    RANK.store(rank, Ordering::Relaxed);
}

/// The rank recorded in events.
pub(crate) fn rank() -> u32 {
    RANK.load(Ordering::Relaxed)
}

/// The thread recorded in events: 0 outside the pool, 1 + index in it.
pub(crate) fn current_tid() -> u32 {
    rayon::current_thread_index().map_or(0, |i| i as u32 + 1)
}

/// The name of the thread `tid` of a trace (the `tid` of its events), as
/// the trace writes it in its `thread_name` entries and the report labels
/// its tracks: `main` for a thread outside the pool (0), `worker i` for
/// the pool's worker `i` (`tid` `i + 1`).
pub fn thread_name(tid: u32) -> String {
    if tid == 0 {
        "main".to_string()
    } else {
        format!("worker {}", tid - 1)
    }
}

/// The two metadata entries that name the track of thread `tid` of rank
/// `pid` (written once per trace, before its first event).
pub(super) fn track_names(pid: u32, tid: u32) -> [Event; 2] {
    [
        ("process_name", format!("rank {pid}")),
        ("thread_name", thread_name(tid)),
    ]
    .map(|(name, value)| {
        let mut args = serde_json::Map::new();
        args.insert("name".into(), value.into());
        Event {
            name: name.into(),
            cat: "__metadata".into(),
            ph: "M".into(),
            ts: 0.0,
            dur: 0.0,
            pid,
            tid,
            args,
        }
    })
}
