use parallel_runtime::prelude::*;

#[derive(Equivalence, Clone, Copy)]
#[mpi(crate = "::parallel_runtime::mpi::rsmpi")]
struct Cell {
    density: f64,
    active: bool,
}

#[derive(Equivalence, Clone, Copy)]
struct Plain {
    density: f64,
    neighbours: [u32; 4],
}

fn main() {
    let world = Comm::single();
    let cells = [Cell { density: 1.0, active: true }; 2];
    // A struct holding a `bool` can be sent...
    world.send_buf(&cells, 0, 0).unwrap();
    // ...but not received into.
    let mut got = cells;
    world.recv_buf(&mut got, 0, 0).unwrap();
    world.bcast_buf(0, &mut got).unwrap();
    // A struct of numbers can be both.
    let mut plain = [Plain { density: 0.0, neighbours: [0; 4] }; 2];
    world.send_buf(&plain, 0, 1).unwrap();
    world.recv_buf(&mut plain, 0, 1).unwrap();
}
