//! Where parallel work runs: [`Backend`], as spelled in `PARALLEL_BACKEND`
//! and on the attributes.

use std::fmt;
use std::str::FromStr;

use super::error::ConfigError;

/// Where parallel work runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// The plain serial loop on the calling thread, in input order. The
    /// debugging switch: removes every thread from the picture.
    Serial,
    /// The shared rayon thread pool (the default).
    Threads,
    /// Split across the ranks of an MPI job, each rank on its own thread
    /// pool; outside a job of several ranks this is the same as `Threads`.
    Mpi,
}

impl Backend {
    /// The spellings accepted in `PARALLEL_BACKEND` and `backend = "…"`.
    pub const VALID: &'static str = "`serial`, `threads`, `mpi`";

    /// The spelling used in `PARALLEL_BACKEND` and on the attribute.
    pub const fn as_str(self) -> &'static str {
        match self {
            Backend::Serial => "serial",
            Backend::Threads => "threads",
            Backend::Mpi => "mpi",
        }
    }

    pub(super) const fn to_u8(self) -> u8 {
        match self {
            Backend::Serial => 1,
            Backend::Threads => 2,
            Backend::Mpi => 3,
        }
    }

    pub(super) const fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Backend::Serial),
            2 => Some(Backend::Threads),
            3 => Some(Backend::Mpi),
            _ => None,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Backend {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "serial" => Ok(Backend::Serial),
            "threads" => Ok(Backend::Threads),
            "mpi" => Ok(Backend::Mpi),
            _ => Err(ConfigError::Invalid {
                what: "backend",
                value: s.to_owned(),
                expected: Backend::VALID,
            }),
        }
    }
}
