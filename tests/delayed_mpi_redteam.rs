//! Runs `tests/bin/graph_redteam.rs` (graphs across ranks red-teamed as a
//! user porting dask-mpi tutorials would write them): in local worlds of 1
//! to 4 threads always, and under `mpirun --oversubscribe -n 2`, `-n 3`
//! and `-n 4` when built with `--features mpi` (`mpirun` on the PATH);
//! skipped with a printed reason otherwise. Every job runs under a
//! deadline, so a hang fails the test.

const DRIVER: parallel_tests::RanksDriver = parallel_tests::RanksDriver {
    exe: env!("CARGO_BIN_EXE_graph_redteam"),
    name: "graph_redteam",
};

fn local(mode: &str, ranks: &[usize]) {
    DRIVER.local(mode, ranks);
}

fn under_mpirun(mode: &str, ranks: &[usize]) {
    DRIVER.under_mpirun(mode, ranks, &[]);
}

#[test]
fn values_of_every_shape_and_size_equal_the_serial_loop() {
    local("values", &[1, 2, 3, 4]);
}

#[test]
fn many_duplicated_and_chained_roots() {
    local("roots", &[1, 2, 3]);
}

#[test]
fn results_computed_again_are_reused_or_refused() {
    local("again", &[1, 2, 3]);
}

#[test]
fn partial_repeated_and_out_of_range_pins() {
    local("pins", &[1, 2, 3]);
}

#[test]
fn graphs_that_differ_slightly_are_an_error_on_every_rank() {
    local("mismatch", &[2, 3]);
}

#[test]
fn failures_name_task_and_rank_on_every_rank() {
    local("fail", &[1, 2, 3]);
}

#[test]
fn unmovable_results_are_refused_before_anything_runs() {
    local("unmovable", &[1, 2, 3]);
}

#[test]
fn tasks_that_compute_or_map_inside() {
    local("nested", &[1, 2, 3]);
}

#[test]
fn empty_graphs() {
    local("empty", &[1, 2, 4]);
}

#[test]
fn wide_and_deep_graphs_of_ten_thousand_tasks() {
    local("big", &[3]);
}

#[test]
fn a_type_registered_on_some_ranks_only() {
    local("registry", &[2]);
}

#[test]
fn a_result_whose_serde_fails_or_panics_is_an_error_of_its_task() {
    local("codec", &[1, 2, 3]);
}

#[test]
fn graphs_on_sub_communicators() {
    local("split", &[1, 2, 3, 4]);
}

/// `compute_on` on some ranks and `compute()` with the `mpi` backend on
/// the others (under `mpirun` this waited for ever: the two calls made
/// their collectives on different communicators).
#[test]
fn compute_on_and_compute_mixed_between_ranks() {
    local("mixed_calls", &[1, 2, 3]);
    under_mpirun("mixed_calls", &[2, 3]);
}

#[test]
fn mpi_results() {
    for mode in [
        "values", "roots", "again", "pins", "nested", "empty", "split",
    ] {
        under_mpirun(mode, &[2, 3]);
    }
    under_mpirun("big", &[3]);
}

#[test]
fn mpi_failure_paths() {
    for mode in ["mismatch", "fail", "unmovable", "registry", "codec"] {
        under_mpirun(mode, &[2, 3]);
    }
    under_mpirun("fail", &[4]);
}

/// With a pool of several threads on each rank (a panic in a `Serialize`
/// on a worker of the pool left every rank waiting, before).
#[test]
fn mpi_failure_paths_with_threads_on_each_rank() {
    DRIVER.under_mpirun("codec", &[2, 3], &[("PARALLEL_NUM_THREADS", "2")]);
    DRIVER.under_mpirun("registry", &[3], &[("PARALLEL_NUM_THREADS", "2")]);
}
