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
//! Run: `cargo run --release --example scaling -- [--out-dir DIR] [--max-threads N] [--items N] [--quick]`
//! or `mpirun -n 4 target/release/examples/scaling --quick`

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

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

struct Args {
    out_dir: PathBuf,
    max_threads: usize,
    items: usize,
    quick: bool,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut a = Args {
        out_dir: PathBuf::from("target/scaling"),
        max_threads: (2 * cores).min(16),
        items: 20_000,
        quick: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--out-dir" => a.out_dir = value("--out-dir")?.into(),
            "--max-threads" => a.max_threads = value("--max-threads")?.parse()?,
            "--items" => a.items = value("--items")?.parse()?,
            "--quick" => a.quick = true,
            other => {
                return Err(format!(
                "unknown argument {other:?}; expected --out-dir, --max-threads, --items or --quick"
            )
                .into())
            }
        }
    }
    if a.max_threads == 0 || a.items == 0 {
        return Err("--max-threads and --items must be positive".into());
    }
    Ok(a)
}

struct Row {
    /// Threads, or ranks in a rank study.
    threads: usize,
    /// Chunk size; 0 in a rank study (each rank runs its block serially).
    chunk: usize,
    seconds: f64,
    speedup: f64,
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
        let mut best = f64::INFINITY;
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
            best = best.min(parallel_runtime::mpi::wtime() - t);
        }
        rows.push(Row {
            threads: k,
            chunk: 0,
            seconds: best,
            speedup: 0.0,
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
    let args = parse_args()?;
    let iters = if args.quick { 100 } else { 400 };
    let items = if args.quick {
        args.items.min(4_000)
    } else {
        args.items
    };
    let repeats = if args.quick { 2 } else { 5 };
    let seeds: Vec<u64> = (0..items as u64).collect();

    if world.size() > 1 {
        let Some(rows) = rank_study(&world, &seeds, iters, repeats)? else {
            return Ok(());
        };
        // Ranks on this one machine share its cores.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        return report(&args, &rows, &[0], world.size(), cores, "ranks");
    }

    let chunks = [1usize, 64, 1024];
    let mut rows: Vec<Row> = Vec::new();
    for &chunk in &chunks {
        let opts = MapOptions::new()
            .schedule(Schedule::Dynamic)
            .chunk_size(chunk);
        for threads in 1..=args.max_threads {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            let mut best = f64::INFINITY;
            for _ in 0..repeats {
                let t = Instant::now();
                let out = pool.install(|| work::map_with(&opts, seeds.iter().copied(), iters));
                std::hint::black_box(serial_part(&out, iters));
                best = best.min(t.elapsed().as_secs_f64());
            }
            rows.push(Row {
                threads,
                chunk,
                seconds: best,
                speedup: 0.0,
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
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    report(&args, &rows, &chunks, args.max_threads, cores, "threads")
}

/// Fits Amdahl's law, writes the CSV and the SVG, prints the table and
/// checks what was written. `unit` is `threads` or `ranks`.
fn report(
    args: &Args,
    rows: &[Row],
    chunks: &[usize],
    max: usize,
    cores: usize,
    unit: &str,
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

    let csv_path = args.out_dir.join("scaling.csv");
    let mut csv = format!("{unit},chunk_size,seconds,speedup,efficiency\n");
    for r in rows {
        csv.push_str(&format!(
            "{},{},{:.6},{:.4},{:.4}\n",
            r.threads,
            r.chunk,
            r.seconds,
            r.speedup,
            r.speedup / r.threads as f64
        ));
    }
    std::fs::write(&csv_path, &csv)?;

    let svg_path = args.out_dir.join("scaling.svg");
    plot(&svg_path, rows, chunks, f, max, cores, unit)?;

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

    // Check what was written, as CI does: every measurement in the table,
    // and a plot that drew every series and the fit.
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
    println!(
        "ok: wrote {} and {}",
        csv_path.display(),
        svg_path.display()
    );
    Ok(())
}

/// The legend of one measured series.
fn series_label(chunk: usize, unit: &str) -> String {
    if chunk == 0 {
        format!("{unit}, one thread each")
    } else {
        format!("chunk {chunk}")
    }
}

fn plot(
    path: &std::path::Path,
    rows: &[Row],
    chunks: &[usize],
    f: f64,
    max_threads: usize,
    cores: usize,
    unit: &str,
) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (1000, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(500);
    let colours = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
    ];
    let xmax = max_threads as f64 + 0.2;
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
        .build_cartesian_2d(0.8f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
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
        .build_cartesian_2d(0.8f64..xmax, 0f64..1.2f64)?;
    chart
        .configure_mesh()
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
