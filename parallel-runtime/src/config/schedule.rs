//! How the items of a map are cut into pieces of work: [`Schedule`].

use std::str::FromStr;

use super::error::ConfigError;

/// How the items of a map are cut into pieces of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Schedule {
    /// One contiguous block per thread (or blocks of `chunk_size`), decided
    /// up front: lowest overhead for items of equal cost. OpenMP `static`.
    Static,
    /// Pieces of exactly `chunk_size` items (default 1) handed to whichever
    /// thread is free: for items of very uneven cost. OpenMP `dynamic`,
    /// `Pool.imap(chunksize=…)`.
    Dynamic,
    /// Large pieces first, split further when threads run out of work
    /// (rayon's adaptive splitting), never below `chunk_size`. The default:
    /// good for most workloads. OpenMP `guided`.
    Guided,
}

impl Schedule {
    /// The spellings accepted in `schedule = "…"`.
    pub const VALID: &'static str = "`static`, `dynamic`, `guided`";
}

impl FromStr for Schedule {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "static" => Ok(Schedule::Static),
            "dynamic" => Ok(Schedule::Dynamic),
            "guided" => Ok(Schedule::Guided),
            _ => Err(ConfigError::Invalid {
                what: "schedule",
                value: s.to_owned(),
                expected: Schedule::VALID,
            }),
        }
    }
}
