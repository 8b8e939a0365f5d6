//! Issue 11's collectives and operations, on real MPI and in a local world,
//! each result compared with a serial computation of the same values:
//! all-to-all (objects and buffers), scatterv/gatherv/allgatherv/alltoallv,
//! scan/exscan (numbers, buffers, closures), reduce-scatter (block and
//! counts), the logical and bitwise operations, MAXLOC/MINLOC; and the
//! errors of bad counts, displacements and buffers, on every rank.
//!
//! ```text
//! mpi_collectives all                # under mpirun -n N (any N, 1 too)
//! mpi_collectives all local 4        # the same in a local world of 4 ranks
//! PARALLEL_MPI_MAX_COUNT=64 mpi_collectives limits [local N]
//!                                    # MPI's int limits, lowered to 64
//! mpi_collectives root-refuses [local N]
//!                                    # fails: the root's error ends the job
//! ```
//!
//! Each rank prints `rank R of N (mpi: B): ok <mode>` when all its checks
//! passed; tests/collectives.rs runs it under deadlines.

#[path = "collectives/checks.rs"]
mod checks;
#[path = "collectives/errors.rs"]
mod errors;

use parallel_runtime::prelude::*;

type Res = Result<(), Box<dyn std::error::Error>>;

#[mpi_main]
fn main(world: Comm) -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("all", String::as_str).to_owned();
    let each = |w: &Comm| run(w, &mode).map_err(|e| e.to_string());
    if let Some(done) = parallel_tests::run_local(&args, &mode, each) {
        return Ok(done?);
    }
    run(&world, &mode)?;
    println!(
        "rank {} of {} (mpi: {}): ok {mode}",
        world.rank(),
        world.size(),
        world.is_mpi()
    );
    Ok(())
}

fn run(w: &Comm, mode: &str) -> Res {
    match mode {
        "all" => {
            checks::exchanges(w)?;
            checks::blocks(w)?;
            checks::scans(w)?;
            checks::reduce_scatters(w)?;
            checks::operations(w)?;
            checks::locations(w)?;
            errors::refusals(w)?;
        }
        "limits" => errors::limits(w)?,
        "root-refuses" => errors::root_refuses(w)?,
        other => return Err(format!("unknown mode `{other}`").into()),
    }
    w.barrier()?;
    Ok(())
}
