//! The timeline's data, embedded in the page as one JSON object that the
//! page's script draws on canvases: per section and track, the spans as
//! columns of variable-length integers (start as a delta from the previous
//! span's, duration, function and status, details), in base64. About six
//! bytes of the page per span, against the hundreds an SVG element costs.

use std::collections::{BTreeMap, HashSet};

use crate::sections::Section;
use crate::trace::{Status, Trace, NONE};

/// The unit of the embedded times, in microseconds: 10 ns.
pub(crate) const QUANTUM_US: f64 = 0.01;

#[derive(serde::Serialize)]
struct Data<'a> {
    /// [`QUANTUM_US`].
    q: f64,
    /// Each function: name, category, colour.
    funcs: Vec<(&'a str, &'a str, &'a str)>,
    /// Each kept detail: text, and the error of a span that did not succeed.
    details: Vec<(&'a str, Option<&'a str>)>,
    sections: Vec<SectionData>,
}

#[derive(serde::Serialize)]
struct SectionData {
    /// Start of the section, in microseconds since the trace's epoch.
    t0: f64,
    /// Its length, in microseconds.
    span: f64,
    /// Each track's label, its number of spans, and its spans.
    rows: Vec<String>,
    counts: Vec<usize>,
    data: Vec<String>,
}

/// The data of the page's timelines, as JSON safe to put inside a
/// `<script>` element (no `<`, `>` or `&` left unescaped).
pub(crate) fn timeline_json(trace: &Trace, sections: &[Section], colours: &[String]) -> String {
    let data = Data {
        q: QUANTUM_US,
        funcs: trace
            .funcs
            .iter()
            .zip(colours)
            .map(|(f, c)| (f.name.as_str(), f.cat.as_str(), c.as_str()))
            .collect(),
        details: trace
            .details
            .iter()
            .map(|d| (d.text.as_str(), d.error.as_deref()))
            .collect(),
        sections: sections.iter().map(|s| section(trace, s)).collect(),
    };
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".into());
    // These characters occur only inside JSON strings, where the escapes
    // mean the same.
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The label of a track.
pub(crate) fn track_label(pid: u32, tid: u32) -> String {
    format!("rank {pid} · {}", parallel_runtime::trace::thread_name(tid))
}

fn section(trace: &Trace, s: &Section) -> SectionData {
    let crit: HashSet<u32> = s.critical.0.iter().map(|&i| s.tasks.spans[i]).collect();
    let mut tracks: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
    for &i in &s.spans {
        let e = &trace.spans[i as usize];
        tracks.entry((e.pid, e.tid)).or_default().push(i);
    }
    let mut out = SectionData {
        t0: s.t0,
        span: s.t1 - s.t0,
        rows: Vec::new(),
        counts: Vec::new(),
        data: Vec::new(),
    };
    for ((pid, tid), spans) in tracks {
        let mut bytes = Vec::with_capacity(spans.len() * 6);
        let mut prev = 0u64;
        for &i in &spans {
            let e = &trace.spans[i as usize];
            // Spans are in start order: deltas are never negative.
            let start = ((e.ts - s.t0) / QUANTUM_US).round().max(0.0) as u64;
            varint(&mut bytes, start.saturating_sub(prev));
            prev = prev.max(start);
            varint(&mut bytes, (e.dur / QUANTUM_US).round() as u64);
            let status = match e.status {
                Status::Ok => 0,
                Status::Failed => 1,
                Status::Cancelled => 2,
            };
            let code = u64::from(e.func) * 8 + status * 2 + u64::from(crit.contains(&i));
            varint(&mut bytes, code);
            varint(
                &mut bytes,
                if e.detail == NONE {
                    0
                } else {
                    u64::from(e.detail) + 1
                },
            );
        }
        out.rows.push(track_label(pid, tid));
        out.counts.push(spans.len());
        out.data.push(base64(&bytes));
    }
    out
}

/// LEB128: seven bits a byte, low first, high bit set on all but the last.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Standard base64 with padding, as the browser's `atob` reads it.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_base64_are_the_standard_ones() {
        let mut v = Vec::new();
        for n in [0, 1, 127, 128, 300, 1 << 40] {
            varint(&mut v, n);
        }
        assert_eq!(v[..6], [0, 1, 127, 0x80, 1, 0xac]);
        assert_eq!(v.len(), 1 + 1 + 1 + 2 + 2 + 6);
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }
}
