//! The names of tasks: [`TaskSite`], one per annotated function, and
//! [`TaskKey`], one per call (`load-3`).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// One annotated function (or `value`): its name and the counter that
/// numbers its nodes. Keys are `name-seq`, made only when asked for.
#[doc(hidden)]
#[derive(Debug)]
pub struct TaskSite {
    pub(crate) name: &'static str,
    /// Where the function is defined (`crate::module::name (file:line)`
    /// for an annotated function, else the name): what the ranks compare
    /// before computing a graph across them, so that two functions of one
    /// name in different modules are not taken for each other.
    pub(crate) origin: &'static str,
    seq: AtomicU64,
}

impl TaskSite {
    /// A site for the function `name`, known by its name alone.
    pub const fn new(name: &'static str) -> Self {
        TaskSite::at(name, name)
    }

    /// A site for the function `name` defined at `origin` (the
    /// `#[delayed]` macro's `concat!(module_path!(), …, file!(), line!())`).
    pub const fn at(name: &'static str, origin: &'static str) -> Self {
        TaskSite {
            name,
            origin,
            seq: AtomicU64::new(0),
        }
    }

    pub(crate) fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }
}

/// The stable name of one task: the function's name and the number of the
/// call, `load-3` for the fourth call of `load` in this process (Dask's
/// keys, without the hash). Cheap to copy; the text is made only when
/// printed.
#[derive(Clone, Copy)]
pub struct TaskKey {
    pub(crate) site: &'static TaskSite,
    pub(crate) seq: u64,
}

impl TaskKey {
    /// The function's name (or the `name = "…"` given on the attribute).
    pub fn name(&self) -> &'static str {
        self.site.name
    }

    /// The number of the call, counted per function from 0.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.site.name, self.seq)
    }
}

impl fmt::Debug for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskKey({self})")
    }
}

impl PartialEq for TaskKey {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq && self.site.name == other.site.name
    }
}
impl Eq for TaskKey {}

impl Hash for TaskKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.site.name.hash(state);
        self.seq.hash(state);
    }
}

impl PartialEq<str> for TaskKey {
    fn eq(&self, other: &str) -> bool {
        other
            .rsplit_once('-')
            .is_some_and(|(n, s)| n == self.site.name && s.parse() == Ok(self.seq))
    }
}

impl PartialEq<&str> for TaskKey {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}
