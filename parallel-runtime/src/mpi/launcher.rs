//! What the MPI launcher says in its environment, read without MPI: whether
//! it started this program as one rank of several (a program built without
//! the `mpi` feature refuses to run as such a rank, since every rank would
//! run alone, silently), and what kind of job it started (one program on
//! every rank, or several).

/// A job of several ranks started by an MPI launcher, seen by a program
/// built without the `mpi` feature: each process would run alone as a world
/// of one rank.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "parallel-runtime: this program was started as {size} ranks by an MPI launcher ({var}={size}), \
     but it was built without the `mpi` feature of parallel-runtime, so every rank would run \
     alone as a world of one rank. Build it with the feature: `cargo build --features \
     parallel-runtime/mpi`, or `parallel-runtime = {{ version = \"…\", features = [\"mpi\"] }}` in \
     Cargo.toml (it needs an MPI library: see the README)"
)]
pub(crate) struct LaunchedWithoutMpi {
    /// The launcher's variable that gave the size.
    pub(crate) var: &'static str,
    /// The job's size.
    pub(crate) size: usize,
    /// This process's rank in the job, if the launcher says.
    pub(crate) rank: Option<usize>,
}

/// The launchers' variables: (size, rank) of Open MPI, MPICH/Hydra and
/// MVAPICH. Not Slurm's `SLURM_NTASKS`, which a batch script sees without
/// any launcher.
const LAUNCHER_VARS: [(&str, &str); 3] = [
    ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
    ("PMI_SIZE", "PMI_RANK"),
    ("MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK"),
];

fn launcher_world(get: impl Fn(&str) -> Option<String>) -> Option<LaunchedWithoutMpi> {
    LAUNCHER_VARS.iter().find_map(|&(size_var, rank_var)| {
        let size = get(size_var)?.trim().parse::<usize>().ok()?;
        (size > 1).then(|| LaunchedWithoutMpi {
            var: size_var,
            size,
            rank: get(rank_var).and_then(|r| r.trim().parse().ok()),
        })
    })
}

/// Refuses to run a program built without the `mpi` feature as one rank
/// of several that an MPI launcher started (`mpirun -n 2 prog`): without
/// MPI each would run alone, silently. Always `Ok` with the feature.
///
/// `#[mpi_main]` calls it at start-up; a map with `backend = "mpi"` outside
/// `#[mpi_main]` may call it too.
pub(crate) fn check_launcher() -> Result<(), LaunchedWithoutMpi> {
    if cfg!(feature = "mpi") {
        return Ok(());
    }
    match launcher_world(|v| std::env::var(v).ok()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What kind of job the launcher started, from its environment.
#[cfg(any(feature = "mpi", test))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    /// One program on every rank (Open MPI's `OMPI_APP_CTX_NUM_PROCS` has
    /// one count): every rank runs this runtime and joins its start-up
    /// collectives.
    Spmd,
    /// Several programs (`mpirun -n 1 a : -n 1 b`): the others may be
    /// mpi4py or C, which never join our start-up collectives.
    Mpmd,
    /// A launcher that does not say.
    Unknown,
}

/// The kind of job, from `OMPI_APP_CTX_NUM_PROCS` as `get` reads it.
#[cfg(any(feature = "mpi", test))]
pub(crate) fn job_kind(get: impl Fn(&str) -> Option<String>) -> JobKind {
    match get("OMPI_APP_CTX_NUM_PROCS") {
        Some(v) => match v.split_whitespace().count() {
            1 => JobKind::Spmd,
            0 => JobKind::Unknown,
            _ => JobKind::Mpmd,
        },
        None => JobKind::Unknown,
    }
}

/// In an Open MPI job, the first rank of this program's app context (the
/// one to print a note for all of them).
#[cfg(any(feature = "mpi", test))]
pub(crate) fn first_rank_of_app(get: impl Fn(&str) -> Option<String>) -> Option<usize> {
    let app: usize = get("OMPI_MCA_orte_app_num")?.trim().parse().ok()?;
    let counts = get("OMPI_APP_CTX_NUM_PROCS")?;
    counts
        .split_whitespace()
        .take(app)
        .map(|c| c.parse::<usize>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::{first_rank_of_app, job_kind, launcher_world, JobKind};

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_launchers_variables_tell_a_job_of_several_ranks() {
        let e = launcher_world(env(&[
            ("OMPI_COMM_WORLD_SIZE", "4"),
            ("OMPI_COMM_WORLD_RANK", "3"),
        ]));
        let e = e.expect("Open MPI's size");
        assert_eq!(
            (e.var, e.size, e.rank),
            ("OMPI_COMM_WORLD_SIZE", 4, Some(3))
        );
        let msg = e.to_string();
        assert!(
            msg.contains("`mpi` feature")
                && msg.contains("--features parallel-runtime/mpi")
                && msg.contains(r#"features = ["mpi"]"#),
            "{msg}"
        );
        let e = launcher_world(env(&[("PMI_SIZE", "2")])).expect("Hydra's size");
        assert_eq!((e.var, e.rank), ("PMI_SIZE", None));
        assert!(launcher_world(env(&[("MV2_COMM_WORLD_SIZE", "8")])).is_some());
        // Not a job of several ranks: one rank, Slurm alone, nonsense.
        assert!(launcher_world(env(&[("OMPI_COMM_WORLD_SIZE", "1")])).is_none());
        assert!(launcher_world(env(&[("SLURM_NTASKS", "16")])).is_none());
        assert!(launcher_world(env(&[("PMI_SIZE", "many")])).is_none());
    }

    #[test]
    fn job_kinds_come_from_open_mpi() {
        let env = |v: &'static str| move |_: &str| Some(v.to_owned());
        assert_eq!(job_kind(env("4")), JobKind::Spmd);
        assert_eq!(job_kind(env("1 1")), JobKind::Mpmd);
        assert_eq!(job_kind(|_: &str| None), JobKind::Unknown);
        let mpmd = |app: &'static str| {
            move |v: &str| match v {
                "OMPI_MCA_orte_app_num" => Some(app.to_owned()),
                "OMPI_APP_CTX_NUM_PROCS" => Some("1 2 4".to_owned()),
                _ => None,
            }
        };
        assert_eq!(first_rank_of_app(mpmd("0")), Some(0));
        assert_eq!(first_rank_of_app(mpmd("2")), Some(3));
        assert_eq!(first_rank_of_app(|_: &str| None), None);
    }
}
