// A crate that reaches the runtime under another name, beside a module
// that shadows the usual one.
extern crate parallel_runtime as prt;

#[allow(dead_code)]
mod parallel_runtime {}

#[prt::mpi_main(crate = "::prt")]
fn main(world: prt::mpi::Comm) {
    assert_eq!(world.all_reduce(1u32, prt::mpi::Op::Sum).unwrap(), world.size() as u32);
}
