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
//! - `graph_hang`: rank 0 computes a graph across the ranks, rank 1
//!   returns without it. The watchdog must name `compute_on`.
//! - `slow`: rank 2 returns at once, rank 1 computes for twice
//!   `PARALLEL_HANG_TIMEOUT` before sending to rank 0, which waits in
//!   `recv`. A computing rank is not hung: the job must succeed.
//! - `deadlock`: ranks 0 and 1 each `send_buf` 1 MiB to the other before
//!   receiving (past the eager limit: each waits for the other's
//!   receive), rank 2 waits in `barrier`; no rank finishes. The watchdog
//!   must abort the job after `PARALLEL_HANG_TIMEOUT`, naming each rank's
//!   operation.
//! - `dropped_send`: as `deadlock`, but each sends by `isend_buf` and
//!   drops the request at once (a drop waits for the send). The watchdog
//!   must abort the job, naming that wait.
//! - `posted_then_allreduce`: rank 0 posts `irecv_buf` from rank 1, then
//!   enters `all_reduce_buf`; rank 1 sends it 1 MiB, then enters
//!   `all_reduce_buf`. A
//!   blocking collective that moves data does not progress posted receives
//!   (docs/mpi.md): the watchdog must abort the job as deadlocked.
//! - `slow_all`: as `slow`, but rank 2 waits in `barrier` instead of
//!   returning, so no rank has finished while rank 1 computes: the job must
//!   succeed.
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
        // Rank 1 returns without the compute rank 0 makes: the watchdog
        // names the compute (it named `split`, the duplicate of the world
        // a first compute makes, which the program never called).
        "graph_hang" => {
            if world.rank() == 0 {
                let sum = parallel_runtime::graph::compute_on(&world, add(1, 2))?;
                println!("rank 0: {sum}");
            }
            return Ok(());
        }
        "deadlock" => {
            let out = vec![1.0f64; 1 << 17];
            let mut back = vec![0.0f64; 1 << 17];
            if let r @ (0 | 1) = world.rank() {
                world.send_buf(&out, 1 - r, 3)?;
                world.recv_buf(&mut back, 1 - r, 3)?;
            }
            world.barrier()?;
            return Ok(());
        }
        // The mpi4py-style exchange with the send's request dropped at
        // once: a drop waits for the send, which no receive takes (before,
        // the wait was MPI's own, unseen by the watchdog: a silent hang).
        "dropped_send" => {
            let out = vec![1.0f64; 1 << 17];
            if let r @ (0 | 1) = world.rank() {
                drop(world.isend_buf(out, 1 - r, 3)?);
                let mut back = vec![0.0f64; 1 << 17];
                world.recv_buf(&mut back, 1 - r, 3)?;
            }
            world.barrier()?;
            return Ok(());
        }
        "posted_then_allreduce" => {
            let data = vec![1.0f64; 1 << 17];
            let mut sum = [0u64];
            match world.rank() {
                0 => {
                    let r = world.irecv_buf(vec![0.0f64; data.len()], 1, 3)?;
                    world.all_reduce_buf(&[1u64], &mut sum, Op::Sum)?;
                    let _ = r.wait()?;
                }
                1 => {
                    world.send_buf(&data, 0, 3)?;
                    world.all_reduce_buf(&[1u64], &mut sum, Op::Sum)?;
                }
                _ => world.all_reduce_buf(&[1u64], &mut sum, Op::Sum)?,
            }
            return Ok(());
        }
        // Rank 2 returns at once (`slow`) or waits in a barrier
        // (`slow_all`) while rank 1 computes before it sends.
        "slow" | "slow_all" => {
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
            if mode == "slow_all" {
                world.barrier()?;
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

#[delayed]
fn add(a: u64, b: u64) -> u64 {
    a + b
}
