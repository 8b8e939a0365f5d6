//! `parallel-report TRACE.json [OUT.html]`: writes a self-contained HTML
//! report of a trace recorded with `PARALLEL_TRACE=TRACE.json`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(input) = args.first().map(PathBuf::from) else {
        eprintln!("usage: parallel-report TRACE.json [OUT.html]\n\nRecord a trace with PARALLEL_TRACE=TRACE.json, then open OUT.html (default: TRACE.html) in a browser.");
        return ExitCode::from(2);
    };
    let output = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| input.with_extension("html"));
    // Streamed: a trace of a million events never sits whole in memory.
    let trace = match parallel_report::Trace::read(&input) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "parallel-report: cannot read the trace {}: {e}",
                input.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let title = input
        .file_name()
        .map_or_else(|| "trace".into(), |n| n.to_string_lossy().into_owned());
    let (html, s) = parallel_report::report(&title, &trace);
    if let Err(e) = std::fs::write(&output, &html) {
        eprintln!("parallel-report: cannot write {}: {e}", output.display());
        return ExitCode::FAILURE;
    }
    println!(
        "{}: {} events, {} sections, {} tracks, wall {:.3} ms, imbalance {:.2}, critical path {} tasks, {} failed, {} cancelled, {:.1} MB",
        output.display(),
        trace.events(),
        s.sections,
        s.busy_us.len(),
        s.wall_us / 1e3,
        s.imbalance,
        s.critical_path.len(),
        s.failed,
        s.cancelled,
        html.len() as f64 / 1e6
    );
    ExitCode::SUCCESS
}
