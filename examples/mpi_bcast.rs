//! Broadcast: rank 0 reads the parameters, every rank gets them.
//!
//! ```python
//! params = {"steps": 100, "name": "run-1"} if rank == 0 else None
//! params = comm.bcast(params, root=0)
//! comm.Bcast(table, root=0)            # a NumPy array, in place
//! ```
//!
//! Run: `mpirun -n 4 target/release/examples/mpi_bcast` (also runs as one rank).

use std::collections::HashMap;

use parallel_runtime::mpi;
use parallel_runtime::prelude::*;

#[mpi_main]
fn main(world: Comm) -> Result<(), mpi::Error> {
    let rank = world.rank();

    // Object path: any serde type.
    let params = (rank == 0)
        .then(|| HashMap::from([("steps".to_string(), 100u32), ("seed".to_string(), 42)]));
    let params: HashMap<String, u32> = world.bcast(0, params)?;
    assert_eq!(params["steps"], 100);
    assert_eq!(params["seed"], 42);

    // Buffer path: in place, no copy.
    let mut table = vec![0.0f64; 4096];
    if rank == 0 {
        for (i, x) in table.iter_mut().enumerate() {
            *x = (i as f64).sqrt();
        }
    }
    world.bcast_buf(0, &mut table)?;
    assert_eq!(table[4095], 4095f64.sqrt());

    if rank == 0 {
        println!("broadcast: ok on {} ranks", world.size());
    }
    Ok(())
}
