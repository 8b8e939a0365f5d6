//! Runs `tests/bin/mpi4py_tutorial.rs` (mpi4py's tutorial and the classic
//! mpi4py examples, ported): every mode in local worlds of 1 to 4 threads
//! always, and under `mpirun --oversubscribe -n 2, 3 and 4` when built
//! with `--features mpi` (`mpirun` on the PATH); skipped with a printed
//! reason otherwise. Every job runs under a deadline, so a hang fails the
//! test.

const DRIVER: parallel_tests::RanksDriver = parallel_tests::RanksDriver {
    exe: env!("CARGO_BIN_EXE_mpi4py_tutorial"),
    name: "mpi4py_tutorial",
};

/// One mode in local worlds of 1 to 4 ranks, then on 2, 3 and 4 MPI ranks.
fn both(mode: &str) {
    DRIVER.local(mode, &[1, 2, 3, 4]);
    DRIVER.under_mpirun(mode, &[2, 3, 4], &[]);
}

#[test]
fn point_to_point_of_objects_with_tags_and_any_source() {
    both("p2p_objects");
}

#[test]
fn point_to_point_of_arrays() {
    both("p2p_arrays");
}

#[test]
fn nonblocking_with_wait_test_and_many_in_flight() {
    both("nonblocking");
}

#[test]
fn posted_receive_then_send_of_large_messages() {
    both("exchange");
}

#[test]
fn posted_receive_across_a_barrier_in_local_worlds() {
    DRIVER.local("posted_then_barrier", &[1, 2, 3]);
}

/// A receive posted with `irecv_buf` (or `irecv`) takes its message while
/// its rank waits in `barrier` (or an `ibarrier`'s wait) on real MPI, so a
/// sender past the eager limit is not left waiting for a rank that waits
/// for it (this hung before `barrier` became `MPI_Ibarrier` waited for
/// with the posted receives progressing).
#[test]
fn mpi_posted_receive_across_a_barrier() {
    DRIVER.under_mpirun("posted_then_barrier", &[2, 3], &[]);
}

#[test]
fn collectives_of_objects() {
    both("coll_objects");
}

#[test]
fn collectives_of_buffers() {
    both("coll_buffers");
}

#[test]
fn scatterv_gatherv_with_uneven_and_empty_blocks() {
    both("uneven");
}

#[test]
fn pi_by_reduction() {
    both("pi");
}

#[test]
fn matrix_vector_product_with_allgather() {
    both("matvec");
}

#[test]
fn sub_communicators_by_split() {
    both("split");
}

#[test]
fn cartesian_topology() {
    both("cart");
}

#[test]
fn probe_of_unknown_sizes() {
    both("probe");
}

#[test]
fn ring_pass() {
    both("ring");
}

#[test]
fn ping_pong_up_to_4_mib() {
    both("pingpong");
}

#[test]
fn master_worker_task_farm() {
    both("taskfarm");
}

#[test]
fn parallel_sum_of_a_large_array_in_uneven_chunks() {
    both("parallel_sum");
}

#[test]
fn mismatched_types_counts_and_ranks_are_clear_errors() {
    both("mismatch");
}

#[test]
fn empty_and_large_messages() {
    both("edges");
}
