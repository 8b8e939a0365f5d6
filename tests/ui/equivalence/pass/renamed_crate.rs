// The derive through the runtime under another name, with the crate path
// as users of rsmpi's own derive write it, beside modules that shadow the
// usual names.
#![allow(dead_code)]
extern crate parallel_runtime as prt;

mod parallel_runtime {}
mod core {}
mod std {}

#[derive(prt::mpi::Equivalence, Clone, Copy)]
#[mpi(crate = "::prt::mpi::rsmpi")]
struct Cell {
    density: f64,
    velocity: [f64; 3],
}

fn main() {
    let world = prt::mpi::Comm::single();
    let mut cells = [Cell { density: 1.0, velocity: [0.0; 3] }; 2];
    world.bcast_buf(0, &mut cells).unwrap();
    assert_eq!(cells[1].density, 1.0);
}
