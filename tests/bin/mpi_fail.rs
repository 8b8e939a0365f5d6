//! A program whose last rank fails while the others wait in a collective:
//! `mpi_fail panic` panics there, `mpi_fail error` returns `Err`. The job
//! must end within seconds, naming the rank (tests/mpi_failure.rs).

use parallel_runtime::prelude::*;

#[mpi_main]
fn main(world: Comm) -> Result<(), Box<dyn std::error::Error>> {
    let mode = std::env::args().nth(1).unwrap_or_default();
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
