//! The measures of the MPI benchmark, shared by `mpi_pingpong` (the
//! default thread level, funneled) and `mpi_pingpong_single`.

use parallel_runtime::mpi::{self, Comm};
use parallel_runtime::prelude::Op;

fn best_of(world: &Comm, iters: usize, mut once: impl FnMut()) -> Result<f64, mpi::Error> {
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        world.barrier()?;
        let t = mpi::wtime();
        for _ in 0..iters {
            once();
        }
        let per = (mpi::wtime() - t) / iters as f64;
        // Rank 0's clock decides, as in the C program.
        let per = world.bcast(0, (world.rank() == 0).then_some(per))?;
        best = best.min(per);
    }
    Ok(best)
}

fn buffer_pingpong(world: &Comm, buf: &mut [u8], iters: usize) -> Result<f64, mpi::Error> {
    let rank = world.rank();
    let one_way = best_of(world, iters, || {
        if rank == 0 {
            world.send_buf(buf, 1, 0).expect("send");
            world.recv_buf(buf, 1, 0).expect("recv");
        } else if rank == 1 {
            world.recv_buf(buf, 0, 0).expect("recv");
            world.send_buf(buf, 0, 0).expect("send");
        }
    })? / 2.0;
    Ok(one_way)
}

/// A message with two numeric fields, 1 MiB in all: the bulk path inside
/// a struct.
#[derive(serde::Serialize, serde::Deserialize)]
struct Fields {
    step: u64,
    pos: Vec<f32>,
    raw: Vec<u8>,
}

fn object_pingpong<T>(world: &Comm, value: &T, iters: usize) -> Result<f64, mpi::Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let rank = world.rank();
    let one_way = best_of(world, iters, || {
        if rank == 0 {
            world.send(value, 1, 0).expect("send");
            let _: T = world.recv(1, 0).expect("recv");
        } else if rank == 1 {
            let v: T = world.recv(0, 0).expect("recv");
            world.send(&v, 0, 0).expect("send");
        }
    })? / 2.0;
    Ok(one_way)
}

/// Runs every measure, printing `{label}-buffer …` lines on rank 0.
pub(crate) fn run(world: Comm, label: &str) -> Result<(), mpi::Error> {
    let (rank, size) = (world.rank(), world.size());
    const BIG: usize = 1 << 20;
    if size >= 2 {
        let mut small = [1u8; 8];
        let mut big = vec![1u8; BIG];
        let mut kib = [1u8; 1024];
        let lat = buffer_pingpong(&world, &mut small, 20_000)?;
        let klat = buffer_pingpong(&world, &mut kib, 20_000)?;
        let bw = buffer_pingpong(&world, &mut big, 300)?;
        let olat = object_pingpong(&world, &3.25f64, 20_000)?;
        let oklat = object_pingpong(&world, &vec![1.0f64; 128], 20_000)?;
        let floats: Vec<f64> = vec![1.0; BIG / 8];
        let obw = object_pingpong(&world, &floats, 300)?;
        let fields = Fields {
            step: 7,
            pos: vec![1.0; BIG / 8],
            raw: vec![1; BIG / 2],
        };
        let sbw = object_pingpong(&world, &fields, 300)?;
        // The rows of a matrix: 16 vectors of 64 KiB, each its own
        // out-of-band piece (measured after the 1 MiB rows, whose freed
        // blocks raised glibc's thresholds: see docs/mpi.md).
        let rows: Vec<Vec<f64>> = (0..16).map(|i| vec![i as f64; BIG / 128]).collect();
        let rbw = object_pingpong(&world, &rows, 300)?;
        if rank == 0 {
            println!(
                "{label}-buffer ranks={size} pingpong_1KiB_us={:.3}",
                klat * 1e6
            );
            println!(
                "{label}-object ranks={size} pingpong_1KiB_us={:.3}",
                oklat * 1e6
            );
            println!(
                "{label}-object ranks={size} pingpong_struct_1MiB_GBps={:.3}",
                BIG as f64 / sbw / 1e9
            );
            println!(
                "{label}-object ranks={size} pingpong_rows_16x64KiB_GBps={:.3}",
                BIG as f64 / rbw / 1e9
            );
            println!(
                "{label}-buffer ranks={size} pingpong_8B_us={:.3}",
                lat * 1e6
            );
            println!(
                "{label}-buffer ranks={size} pingpong_1MiB_GBps={:.3}",
                BIG as f64 / bw / 1e9
            );
            println!(
                "{label}-object ranks={size} pingpong_8B_us={:.3}",
                olat * 1e6
            );
            println!(
                "{label}-object ranks={size} pingpong_1MiB_GBps={:.3}",
                BIG as f64 / obw / 1e9
            );
        }
    }
    let x = rank as f64;
    let mut out = [0.0f64];
    let buf = best_of(&world, 20_000, || {
        world
            .all_reduce_buf(&[x], &mut out, Op::Sum)
            .expect("all_reduce_buf");
    })?;
    let obj = best_of(&world, 20_000, || {
        std::hint::black_box(world.all_reduce(x, Op::Sum).expect("all_reduce"));
    })?;
    let closure = best_of(&world, 2_000, || {
        std::hint::black_box(
            world
                .all_reduce_with(x, |a, b| a + b)
                .expect("all_reduce_with"),
        );
    })?;
    // `barrier` is `MPI_Ibarrier` waited for while posted receives
    // progress (docs/mpi.md): C's row is `MPI_Barrier`.
    let barrier = best_of(&world, 20_000, || world.barrier().expect("barrier"))?;
    if rank == 0 {
        println!("{label} ranks={size} barrier_us={:.3}", barrier * 1e6);
        println!(
            "{label}-buffer ranks={size} allreduce_8B_us={:.3}",
            buf * 1e6
        );
        println!(
            "{label}-object ranks={size} allreduce_8B_us={:.3}",
            obj * 1e6
        );
        println!(
            "{label}-closure ranks={size} allreduce_8B_us={:.3}",
            closure * 1e6
        );
    }
    Ok(())
}
