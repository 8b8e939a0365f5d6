//! Scaling study: how many cores are worth it for *your* map?
//!
//! Runs one `#[parallel_map]` workload at 1, 2, … threads with several chunk
//! sizes, then writes
//!
//! - `scaling.csv`: threads, chunk size, seconds, speed-up, efficiency;
//! - `scaling.svg`: speed-up and efficiency against threads, one line per
//!   chunk size, with Amdahl's law fitted to the measurements.
//!
//! This is the "computation versus communication" lesson made measurable:
//! tiny chunks pay scheduling cost on every item; a serial part caps the
//! speed-up at 1 / (1 − p) whatever the thread count (Amdahl).
//!
//! Under `mpirun -n N` (built with `--features parallel-runtime/mpi`) it
//! studies ranks instead: the same items split over the first 1, 2, … N
//! ranks (one thread each), results gathered on rank 0, which writes the
//! files; there communication joins the serial step in the cost.
//!
//! When repeated timings of one point differ by more than `--max-spread`
//! (or the fit misses the points by as much), the study says so, on the
//! terminal and on the plot: the machine was too busy for the fit to mean
//! anything.
//!
//! Run: `cargo run --release --example scaling -- --help`
//! or `mpirun -n 4 target/release/examples/scaling --quick`

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use parallel_examples::busy_work;
use parallel_runtime::prelude::*;
use plotters::prelude::*;

/// The per-item work of the study: a few microseconds of arithmetic.
#[parallel_map]
fn work(seed: u64, iters: u32) -> f64 {
    busy_work(seed, iters)
}

/// A serial step each run must do (reading input, combining output): the
/// part Amdahl's law is about.
fn serial_part(results: &[f64], iters: u32) -> f64 {
    let mut acc = 0.0;
    for (i, r) in results.iter().enumerate().step_by(8) {
        acc += busy_work(i as u64 ^ r.to_bits(), iters);
    }
    acc
}

/// Scaling study: speed-up and efficiency of one map against the thread
/// count (or, under mpirun, the rank count), with Amdahl's law fitted.
#[derive(Parser)]
struct Args {
    /// Where to write scaling.csv and scaling.svg.
    #[arg(long, default_value = "target/scaling")]
    out_dir: PathBuf,
    /// The largest thread count to measure [default: twice the cores, at
    /// most 16].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    max_threads: Option<u32>,
    /// Items of the map (at most 4000 with --quick).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    items: u64,
    /// A short study (fewer items, iterations and repeats), for CI.
    #[arg(long)]
    quick: bool,
    /// The relative spread of repeated timings ((slowest - fastest) /
    /// fastest) above which the fit is flagged as meaningless.
    #[arg(long, default_value_t = 0.25)]
    max_spread: f64,
}

/// The arguments, or `None` when `--help` or `--version` was answered.
/// (Not `Args::parse`, which exits the process: under MPI every rank must
/// return from `main` so that MPI is finalized.)
fn parse_args() -> Result<Option<Args>, Box<dyn Error>> {
    match Args::try_parse() {
        Ok(a) => Ok(Some(a)),
        Err(e) if !e.use_stderr() => {
            e.print()?;
            Ok(None)
        }
        Err(e) => {
            e.print()?;
            Err("invalid arguments (see --help)".into())
        }
    }
}

struct Row {
    /// Threads, or ranks in a rank study.
    threads: usize,
    /// Chunk size; 0 in a rank study (each rank runs its block serially).
    chunk: usize,
    seconds: f64,
    speedup: f64,
    /// Relative spread of the repeated timings: (slowest - fastest) /
    /// fastest.
    spread: f64,
}

/// The best of repeated timings, and their relative spread.
fn best_and_spread(times: &[f64]) -> (f64, f64) {
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let worst = times.iter().copied().fold(0.0, f64::max);
    (best, (worst - best) / best)
}

/// Amdahl's law: speed-up on `p` threads when a fraction `f` of the work
/// runs in parallel.
fn amdahl(f: f64, p: f64) -> f64 {
    1.0 / ((1.0 - f) + f / p)
}

/// Least-squares fit of the parallel fraction (golden-section search on
/// [0, 1], the error being convex enough in practice).
fn fit_amdahl(points: &[(f64, f64)]) -> f64 {
    let err = |f: f64| {
        points
            .iter()
            .map(|(p, s)| (amdahl(f, *p) - s).powi(2))
            .sum::<f64>()
    };
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..100 {
        let (a, b) = (hi - g * (hi - lo), lo + g * (hi - lo));
        if err(a) < err(b) {
            hi = b;
        } else {
            lo = a;
        }
    }
    (lo + hi) / 2.0
}

/// The rank study: the items split over the first `k` ranks, for each `k`;
/// every rank takes part, and rank 0 gets the rows.
fn rank_study(
    world: &Comm,
    seeds: &[u64],
    iters: u32,
    repeats: usize,
) -> Result<Option<Vec<Row>>, Box<dyn Error>> {
    let (rank, size) = (world.rank(), world.size());
    let mut rows = Vec::new();
    for k in 1..=size {
        let member = rank < k;
        let sub = world.split(Some(u32::from(member)), rank as i32)?;
        let mut times = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            world.barrier()?;
            let t = parallel_runtime::mpi::wtime();
            if let (true, Some(sub)) = (member, &sub) {
                let (lo, hi) = (seeds.len() * rank / k, seeds.len() * (rank + 1) / k);
                let mine: Vec<f64> = seeds[lo..hi].iter().map(|s| work(*s, iters)).collect();
                if let Some(parts) = sub.gather(0, &mine)? {
                    let all: Vec<f64> = parts.concat();
                    assert_eq!(all.len(), seeds.len(), "every item gathered once");
                    std::hint::black_box(serial_part(&all, iters));
                }
            }
            world.barrier()?;
            times.push(parallel_runtime::mpi::wtime() - t);
        }
        let (seconds, spread) = best_and_spread(&times);
        rows.push(Row {
            threads: k,
            chunk: 0,
            seconds,
            speedup: 0.0,
            spread,
        });
    }
    let base = rows[0].seconds;
    for r in &mut rows {
        r.speedup = base / r.seconds;
    }
    Ok((rank == 0).then_some(rows))
}

#[mpi_main]
fn main(world: Comm) -> Result<(), Box<dyn Error>> {
    let Some(args) = parse_args()? else {
        return Ok(());
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let max_threads = args.max_threads.map_or((2 * cores).min(16), |n| n as usize);
    let iters = if args.quick { 100 } else { 400 };
    let items = if args.quick {
        args.items.min(4_000)
    } else {
        args.items
    };
    // Three at least: the spread of two timings says little.
    let repeats = if args.quick { 3 } else { 5 };
    let seeds: Vec<u64> = (0..items).collect();

    if world.size() > 1 {
        let Some(rows) = rank_study(&world, &seeds, iters, repeats)? else {
            return Ok(());
        };
        // Ranks on this one machine share its cores.
        return report(&args, &rows, &[0], world.size(), cores, "ranks");
    }

    let chunks = [1usize, 64, 1024];
    let mut rows: Vec<Row> = Vec::new();
    for &chunk in &chunks {
        let opts = MapOptions::new()
            .schedule(Schedule::Dynamic)
            .chunk_size(chunk);
        for threads in 1..=max_threads {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            let mut times = Vec::with_capacity(repeats);
            for _ in 0..repeats {
                let t = Instant::now();
                let out = pool.install(|| work::map_with(&opts, seeds.iter().copied(), iters));
                std::hint::black_box(serial_part(&out, iters));
                times.push(t.elapsed().as_secs_f64());
            }
            let (seconds, spread) = best_and_spread(&times);
            rows.push(Row {
                threads,
                chunk,
                seconds,
                speedup: 0.0,
                spread,
            });
        }
    }
    // Speed-up against one thread with the same chunk size.
    for &chunk in &chunks {
        let base = rows
            .iter()
            .find(|r| r.chunk == chunk && r.threads == 1)
            .map_or(1.0, |r| r.seconds);
        for r in rows.iter_mut().filter(|r| r.chunk == chunk) {
            r.speedup = base / r.seconds;
        }
    }
    report(&args, &rows, &chunks, max_threads, cores, "threads")
}

/// Fits Amdahl's law, writes the CSV and the SVG, prints the table and
/// checks what was written. `unit` is `threads` or `ranks`.
fn report(
    args: &Args,
    rows: &[Row],
    chunks: &[usize],
    max: usize,
    cores: usize,
    unit: &'static str,
) -> Result<(), Box<dyn Error>> {
    std::fs::create_dir_all(&args.out_dir)?;
    // Fit Amdahl to the best series, on the counts the machine really has
    // (oversubscribed points measure time-sharing, not the law).
    let series_time = |c: usize| {
        rows.iter()
            .filter(|r| r.chunk == c)
            .map(|r| r.seconds)
            .sum::<f64>()
    };
    let best_chunk = *chunks
        .iter()
        .min_by(|a, b| series_time(**a).total_cmp(&series_time(**b)))
        .unwrap_or(&chunks[0]);
    let points: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.chunk == best_chunk && r.threads <= cores)
        .map(|r| (r.threads as f64, r.speedup))
        .collect();
    let f = fit_amdahl(&points);
    let noise = Noise::of(rows, &points, f, args.max_spread, unit);

    let csv_path = args.out_dir.join("scaling.csv");
    let mut csv = format!("{unit},chunk_size,seconds,speedup,efficiency,spread\n");
    for r in rows {
        csv.push_str(&format!(
            "{},{},{:.6},{:.4},{:.4},{:.4}\n",
            r.threads,
            r.chunk,
            r.seconds,
            r.speedup,
            r.speedup / r.threads as f64,
            r.spread
        ));
    }
    std::fs::write(&csv_path, &csv)?;

    let svg_path = args.out_dir.join("scaling.svg");
    plot(
        &svg_path,
        rows,
        chunks,
        f,
        max,
        cores,
        unit,
        noise.warning(),
    )?;

    let label = |c: usize| format!("speed-up, {}", series_label(c, unit));
    println!(
        "| {unit} | {} |",
        chunks
            .iter()
            .map(|c| label(*c))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---:|{}", "---:|".repeat(chunks.len()));
    for t in 1..=max {
        let cells: Vec<String> = chunks
            .iter()
            .map(|c| {
                rows.iter()
                    .find(|r| r.threads == t && r.chunk == *c)
                    .map_or("".into(), |r| format!("{:.2}", r.speedup))
            })
            .collect();
        println!("| {t} | {} |", cells.join(" | "));
    }
    println!(
        "Amdahl fit ({}1..={} {unit}): parallel fraction {:.3}, so at most {:.1}× on any number of {unit}",
        if best_chunk == 0 { String::new() } else { format!("chunk {best_chunk}, ") },
        cores.min(max),
        f,
        1.0 / (1.0 - f).max(1e-9)
    );

    if let Some(w) = noise.warning() {
        println!("warning: {w}");
    }

    // Check what was written, as CI does: every measurement in the table,
    // and a plot that drew every series and the fit (and the warning,
    // when there is one).
    let written = std::fs::read_to_string(&csv_path)?;
    assert_eq!(
        written.lines().count(),
        1 + chunks.len() * max,
        "one CSV row per run"
    );
    assert!(rows
        .iter()
        .all(|r| r.seconds > 0.0 && r.speedup.is_finite()));
    let svg = std::fs::read_to_string(&svg_path)?;
    assert!(
        svg.contains("Amdahl")
            && svg.contains(&series_label(chunks[0], unit))
            && svg.contains("efficiency"),
        "plot labels missing"
    );
    assert!(
        svg.matches("<polyline").count() >= 2 * chunks.len() + 2,
        "plot lines missing"
    );
    assert!((0.0..=1.0).contains(&f));
    assert_eq!(
        svg.contains("timings too noisy"),
        noise.warning().is_some(),
        "the plot and the terminal disagree about the warning"
    );
    assert!(rows.iter().all(|r| r.spread >= 0.0));
    println!(
        "ok: wrote {} and {}",
        csv_path.display(),
        svg_path.display()
    );
    Ok(())
}

/// How far the timings can be trusted: the largest spread of repeated
/// timings among the fitted points, and how far the fit misses them.
struct Noise {
    /// Largest relative spread of repeats, and at how many threads or ranks.
    spread: (f64, usize),
    /// `threads` or `ranks`.
    unit: &'static str,
    /// Root-mean-square relative error of the fit at the fitted points.
    misfit: f64,
    /// Above this spread or misfit the fit is flagged.
    limit: f64,
}

impl Noise {
    fn of(rows: &[Row], points: &[(f64, f64)], f: f64, limit: f64, unit: &'static str) -> Self {
        let spread = rows
            .iter()
            .filter(|r| points.iter().any(|(p, _)| *p as usize == r.threads))
            .map(|r| (r.spread, r.threads))
            .fold((0.0, 1), |a, b| if b.0 > a.0 { b } else { a });
        let misfit = (points
            .iter()
            .map(|(p, s)| ((amdahl(f, *p) - s) / s).powi(2))
            .sum::<f64>()
            / points.len().max(1) as f64)
            .sqrt();
        Noise {
            spread,
            unit,
            misfit,
            limit,
        }
    }

    /// What to say when the fit cannot be trusted.
    fn warning(&self) -> Option<String> {
        let (spread, at) = self.spread;
        if spread > self.limit {
            Some(format!(
                "timings too noisy for the fit to mean anything: repeats differ by {:.0}% at {at} {} (limit {:.0}%); rerun on a quiet machine, with more --items",
                100.0 * spread,
                if at == 1 { self.unit.trim_end_matches('s') } else { self.unit },
                100.0 * self.limit
            ))
        } else if self.misfit > self.limit {
            Some(format!(
                "timings too noisy for the fit to mean anything: Amdahl's law misses the points by {:.0}% (limit {:.0}%); rerun on a quiet machine, with more --items",
                100.0 * self.misfit,
                100.0 * self.limit
            ))
        } else {
            None
        }
    }
}

/// The legend of one measured series.
fn series_label(chunk: usize, unit: &str) -> String {
    if chunk == 0 {
        format!("{unit}, one thread each")
    } else {
        format!("chunk {chunk}")
    }
}

#[allow(clippy::too_many_arguments)] // one plot, every number it shows
fn plot(
    path: &std::path::Path,
    rows: &[Row],
    chunks: &[usize],
    f: f64,
    max_threads: usize,
    cores: usize,
    unit: &str,
    warning: Option<String>,
) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (1000, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = match &warning {
        Some(w) => {
            let (banner, rest) = root.split_vertically(26);
            banner.fill(&RGBColor(255, 236, 236))?;
            banner.draw(&Text::new(
                format!("WARNING: {w}"),
                (8, 7),
                ("sans-serif", 12).into_font().color(&RGBColor(170, 0, 0)),
            ))?;
            rest
        }
        None => root,
    };
    let (left, right) = root.split_horizontally(500);
    // Thread counts are whole: a label every half step, written only on
    // the whole ones.
    let x_labels = 2 * max_threads + 1;
    let whole = |x: &f64| {
        if (x - x.round()).abs() < 1e-6 {
            format!("{}", x.round() as i64)
        } else {
            String::new()
        }
    };
    let colours = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
    ];
    let xmax = max_threads as f64 + 0.5;
    let ymax = rows.iter().map(|r| r.speedup).fold(
        amdahl(f, max_threads as f64).max(max_threads.min(cores) as f64),
        f64::max,
    ) * 1.15;

    let mut chart = ChartBuilder::on(&left)
        .caption(
            format!("speed-up against 1 {}", unit.trim_end_matches('s')),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0.5f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_labels(x_labels)
        .x_label_formatter(&whole)
        .disable_x_mesh()
        .x_desc(unit)
        .y_desc("speed-up")
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            (1..=max_threads).map(|p| (p as f64, p as f64)),
            BLACK.mix(0.3),
        ))?
        .label("ideal")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.3)));
    let fit_style = ShapeStyle::from(&RGBColor(120, 0, 120)).stroke_width(2);
    chart
        .draw_series(LineSeries::new(
            (0..=100).map(|i| {
                let p = 1.0 + (max_threads as f64 - 1.0) * i as f64 / 100.0;
                (p, amdahl(f, p))
            }),
            fit_style,
        ))?
        .label(format!("Amdahl fit, parallel fraction {f:.3}"))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], fit_style));
    for (i, c) in chunks.iter().enumerate() {
        let colour = colours[i % colours.len()];
        let pts: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.chunk == *c)
            .map(|r| (r.threads as f64, r.speedup))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?
            .label(series_label(*c, unit))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
    }
    if cores < max_threads {
        let x = cores as f64 + 0.5;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, 0.0), (x, ymax)],
            RED.mix(0.5),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{cores} cores; beyond: oversubscribed"),
            (x + 0.05, ymax * 0.95),
            ("sans-serif", 12),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK.mix(0.4))
        .background_style(WHITE.mix(0.9))
        .draw()?;

    let mut chart = ChartBuilder::on(&right)
        .caption(
            format!("parallel efficiency (speed-up / {unit})"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0.5f64..xmax, 0f64..1.2f64)?;
    chart
        .configure_mesh()
        .x_labels(x_labels)
        .x_label_formatter(&whole)
        .disable_x_mesh()
        .x_desc(unit)
        .y_desc("efficiency")
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            (0..=100).map(|i| {
                let p = 1.0 + (max_threads as f64 - 1.0) * i as f64 / 100.0;
                (p, amdahl(f, p) / p)
            }),
            fit_style,
        ))?
        .label("Amdahl fit")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], fit_style));
    for (i, c) in chunks.iter().enumerate() {
        let colour = colours[i % colours.len()];
        chart
            .draw_series(LineSeries::new(
                rows.iter()
                    .filter(|r| r.chunk == *c)
                    .map(|r| (r.threads as f64, r.speedup / r.threads as f64)),
                colour.stroke_width(2),
            ))?
            .label(series_label(*c, unit))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
    }
    if cores < max_threads {
        let x = cores as f64 + 0.5;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, 0.0), (x, 1.2)],
            RED.mix(0.5),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{cores} cores"),
            (x + 0.1, 1.12),
            ("sans-serif", 13),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .border_style(BLACK.mix(0.4))
        .background_style(WHITE.mix(0.9))
        .draw()?;
    root.present()?;
    Ok(())
}
