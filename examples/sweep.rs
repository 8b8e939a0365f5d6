//! A parameter sweep with shared arguments: every (damping, stiffness) pair
//! of a grid through the same oscillator model, like
//! `pool.map(partial(simulate, model=model, steps=steps), grid)` in Python.
//! Prints serial time, parallel time and speed-up.
//!
//! Run: `cargo run --release --example sweep`

use parallel_runtime::prelude::*;

/// Shared by every call: passed once.
struct Model {
    mass: f64,
    dt: f64,
}

/// One point of the grid.
#[derive(Clone, Copy)]
struct Params {
    damping: f64,
    stiffness: f64,
}

/// Energy left after `steps` steps of a damped spring (semi-implicit Euler).
#[parallel_map(schedule = "dynamic", chunk_size = 4)]
fn simulate(p: &Params, model: &Model, steps: u32) -> f64 {
    let (mut x, mut v) = (1.0f64, 0.0f64);
    for _ in 0..steps {
        let a = (-p.stiffness * x - p.damping * v) / model.mass;
        v += a * model.dt;
        x += v * model.dt;
    }
    0.5 * model.mass * v * v + 0.5 * p.stiffness * x * x
}

fn main() {
    let model = Model {
        mass: 1.0,
        dt: 1e-3,
    };
    let steps = 20_000;
    let grid: Vec<Params> = (0..24)
        .flat_map(|i| {
            (0..24).map(move |j| Params {
                damping: 0.01 * i as f64,
                stiffness: 1.0 + j as f64,
            })
        })
        .collect();

    let t = std::time::Instant::now();
    let serial: Vec<f64> = grid.iter().map(|p| simulate(p, &model, steps)).collect();
    let t_serial = t.elapsed().as_secs_f64();

    let t = std::time::Instant::now();
    let parallel = simulate::map(&grid, &model, steps);
    let t_parallel = t.elapsed().as_secs_f64();

    assert_eq!(
        parallel, serial,
        "parallel results differ from the serial loop"
    );
    // Physics check: no damping keeps (almost) all the energy, damping loses it.
    let undamped = parallel[0];
    let damped = parallel[23 * 24];
    assert!(
        (undamped - 0.5).abs() < 0.01,
        "undamped energy {undamped} should stay near 0.5"
    );
    assert!(
        damped < 0.05 * undamped,
        "damped energy {damped} should decay"
    );

    println!(
        "{} grid points × {steps} steps, {} threads",
        grid.len(),
        parallel_runtime::num_threads()
    );
    println!("| run | time (s) | speed-up |");
    println!("|---|---:|---:|");
    println!("| serial loop | {t_serial:.3} | 1.00 |");
    println!(
        "| `simulate::map` | {t_parallel:.3} | {:.2} |",
        t_serial / t_parallel
    );
    println!("ok: parallel results equal the serial ones");
}
