//! A program for the failure tests of `#[mpi_main]` (tests/mpi_failure.rs),
//! one scenario per first argument:
//!
//! - `panic`, `error`: the last rank panics, or returns `Err`, while the
//!   others wait in a collective. The job must end within seconds, naming
//!   the rank.
//! - `hang`: rank 1 returns `Ok` without sending the message rank 0 waits
//!   for in `recv`, while rank 2 waits in a `barrier` (3 ranks). The hang
//!   watchdog must abort the job after `PARALLEL_HANG_TIMEOUT`, naming rank
//!   1 and what ranks 0 and 2 wait in.
//! - `slow`: rank 2 returns at once, rank 1 computes for twice
//!   `PARALLEL_HANG_TIMEOUT` before sending to rank 0, which waits in
//!   `recv`. A computing rank is not hung: the job must succeed.
//! - anything else: a healthy job (every rank in one `all_reduce`).

use parallel_runtime::prelude::*;

#[mpi_main]
fn main(world: Comm) -> Result<(), Box<dyn std::error::Error>> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        "hang" => {
            match world.rank() {
                1 => {}
                0 => {
                    let _: u32 = world.recv(1, 7)?;
                }
                _ => world.barrier()?,
            }
            return Ok(());
        }
        "slow" => {
            let timeout: f64 = std::env::var("PARALLEL_HANG_TIMEOUT")
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(1.0);
            match world.rank() {
                0 => {
                    let got: u32 = world.recv(1, 7)?;
                    assert_eq!(got, 42);
                }
                1 => {
                    std::thread::sleep(std::time::Duration::from_secs_f64(2.0 * timeout));
                    world.send(&42u32, 0, 7)?;
                }
                _ => {}
            }
            return Ok(());
        }
        _ => {}
    }
    let failing = world.size() - 1;
    if world.rank() == failing {
        std::thread::sleep(std::time::Duration::from_millis(300));
        match mode.as_str() {
            "panic" => panic!("simulated bug on rank {failing}"),
            "error" => return Err(format!("simulated failure on rank {failing}").into()),
            _ => {}
        }
    }
    // The other ranks block here until the failing rank's abort ends them.
    let total = world.all_reduce(1u32, Op::Sum)?;
    assert_eq!(total as usize, world.size());
    Ok(())
}
