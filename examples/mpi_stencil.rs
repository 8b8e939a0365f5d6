//! A stencil code: heat diffusing on a 2-D grid split over a Cartesian grid
//! of ranks, each exchanging its edges (halos) with its four neighbours at
//! every step, checked against the same computation done serially.
//!
//! ```python
//! dims = MPI.Compute_dims(comm.size, [0, 0])
//! cart = comm.Create_cart(dims, periods=[False, True])
//! up, down = cart.Shift(0, 1)                      # MPI.PROC_NULL at the edges
//! cart.Sendrecv(last_row, dest=down, recvbuf=top_halo, source=up)
//! ```
//!
//! Rows (dimension 0) have fixed zero edges; columns (dimension 1) wrap
//! around. Run: `mpirun -n 4 target/release/examples/mpi_stencil` (any
//! number of ranks, also one).

use parallel_runtime::mpi::{self, dims_create, CartComm};
use parallel_runtime::prelude::*;

/// The global grid and the number of steps.
const NX: usize = 24;
const NY: usize = 20;
const STEPS: usize = 50;
const K: f64 = 0.1;

fn initial(i: usize, j: usize) -> f64 {
    ((i * 7 + j * 3) % 11) as f64
}

/// The rows (or columns) of block `c` of `p` blocks of `n`.
fn block(n: usize, p: usize, c: usize) -> std::ops::Range<usize> {
    c * n / p..(c + 1) * n / p
}

/// One step of the 5-point stencil on `u` (`rows + 2` × `cols + 2`, halos
/// around the interior), the same expression everywhere.
fn step(u: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let w = cols + 2;
    let mut next = u.to_vec();
    for i in 1..=rows {
        for j in 1..=cols {
            let c = u[i * w + j];
            let around =
                u[(i - 1) * w + j] + u[(i + 1) * w + j] + u[i * w + j - 1] + u[i * w + j + 1];
            next[i * w + j] = c + K * (around - 4.0 * c);
        }
    }
    next
}

/// Sends `send` to `dest` and receives `recv` from `source`, either of
/// which may be off the grid's edge (`None`, `MPI.PROC_NULL`): then that
/// half does nothing, and the halo keeps its zeros.
fn exchange(
    cart: &CartComm,
    send: &[f64],
    dest: Option<usize>,
    recv: &mut [f64],
    source: Option<usize>,
) -> Result<(), mpi::Error> {
    match (dest, source) {
        (Some(d), Some(s)) => cart.sendrecv_buf(send, d, 0, recv, s, 0).map(drop),
        (Some(d), None) => cart.send_buf(send, d, 0),
        (None, Some(s)) => cart.recv_buf(recv, s, 0).map(drop),
        (None, None) => Ok(()),
    }
}

/// Fills the halos of this rank's block `u` from its neighbours.
fn halos(cart: &CartComm, u: &mut [f64], rows: usize, cols: usize) -> Result<(), mpi::Error> {
    let w = cols + 2;
    // Rows: the last row down, the top halo from above; then the first row
    // up, the bottom halo from below.
    let (up, down) = cart.shift(0, 1)?;
    let last = u[rows * w..(rows + 1) * w].to_vec();
    exchange(cart, &last, down, &mut u[..w], up)?;
    let first = u[w..2 * w].to_vec();
    exchange(cart, &first, up, &mut u[(rows + 1) * w..], down)?;
    // Columns, packed into vectors: the last column right, the left halo
    // from the left; then the first column left, the right halo from the
    // right.
    let (left, right) = cart.shift(1, 1)?;
    let column = |u: &[f64], j: usize| (1..=rows).map(|i| u[i * w + j]).collect::<Vec<_>>();
    let mut halo = vec![0.0; rows];
    for (j_send, j_recv, dest, source) in [(cols, 0, right, left), (1, cols + 1, left, right)] {
        let send = column(u, j_send);
        halo.fill(0.0);
        exchange(cart, &send, dest, &mut halo, source)?;
        for (i, x) in halo.iter().enumerate() {
            u[(i + 1) * w + j_recv] = *x;
        }
    }
    Ok(())
}

/// The whole grid, serially, with the same edges: zero rows above and
/// below, columns wrapping around.
fn serial() -> Vec<f64> {
    let w = NY + 2;
    let mut u = vec![0.0; (NX + 2) * w];
    for i in 0..NX {
        for j in 0..NY {
            u[(i + 1) * w + j + 1] = initial(i, j);
        }
    }
    for _ in 0..STEPS {
        for i in 1..=NX {
            u[i * w] = u[i * w + NY];
            u[i * w + NY + 1] = u[i * w + 1];
        }
        u = step(&u, NX, NY);
    }
    u
}

#[mpi_main]
fn main(world: Comm) -> Result<(), mpi::Error> {
    let dims = dims_create(world.size(), &[0, 0])?;
    let cart = world.create_cart(&dims, &[false, true], true)?;
    let here = cart.coords(cart.rank())?;
    let (rows, cols) = (block(NX, dims[0], here[0]), block(NY, dims[1], here[1]));
    let (lx, ly) = (rows.len(), cols.len());
    let w = ly + 2;
    let mut u = vec![0.0; (lx + 2) * w];
    for (i, gi) in rows.clone().enumerate() {
        for (j, gj) in cols.clone().enumerate() {
            u[(i + 1) * w + j + 1] = initial(gi, gj);
        }
    }
    for _ in 0..STEPS {
        halos(&cart, &mut u, lx, ly)?;
        u = step(&u, lx, ly);
    }

    // The total heat, started now and waited for after the check.
    let interior: Vec<f64> = (1..=lx)
        .flat_map(|i| u[i * w + 1..i * w + 1 + ly].to_vec())
        .collect();
    let total = cart.iall_reduce_buf(vec![interior.iter().sum::<f64>()], Op::Sum)?;
    let blocks = cart.gather(0, &(rows.start, cols.start, ly, interior))?;
    if let Some(blocks) = blocks {
        let want = serial();
        let mut worst = 0.0f64;
        for (r0, c0, ly, vals) in blocks {
            for (k, v) in vals.iter().enumerate() {
                let (i, j) = (r0 + k / ly, c0 + k % ly);
                worst = worst.max((v - want[(i + 1) * (NY + 2) + j + 1]).abs());
            }
        }
        assert!(
            worst < 1e-12,
            "the grid differs from the serial one by {worst}"
        );
        println!(
            "{STEPS} steps of a {NX}x{NY} stencil on a {}x{} grid of ranks match the serial run",
            dims[0], dims[1]
        );
    }
    let total = total.wait()?[0];
    let serial_total: f64 = {
        let s = serial();
        (1..=NX)
            .flat_map(|i| s[i * (NY + 2) + 1..i * (NY + 2) + 1 + NY].to_vec())
            .sum()
    };
    assert!((total - serial_total).abs() < 1e-9 * serial_total.abs().max(1.0));
    Ok(())
}
