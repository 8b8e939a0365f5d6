//! Cartesian topologies (mpi4py's `comm.Create_cart`, `cart.Get_coords`,
//! `cart.Get_cart_rank`, `cart.Shift` and `MPI.Compute_dims`): ranks laid
//! out on a grid, each knowing its neighbours, the basis of stencil codes
//! (see `examples/mpi_stencil.rs`).
//!
//! Ranks are numbered in row-major order over the grid (the last
//! coordinate varies fastest), as MPI does.

use super::comm::Comm;
use super::error::Error;
use super::transport::nonblocking::Extended;

/// A communicator whose ranks form a grid of [`CartComm::dims`] (mpi4py's
/// `MPI.Cartcomm`), from [`Comm::create_cart`]. It is a [`Comm`] too (it
/// dereferences to one): every operation works on it, and its messages
/// never mix with those of the communicator it came from.
#[derive(Debug)]
pub struct CartComm {
    comm: Comm,
    dims: Vec<usize>,
    periods: Vec<bool>,
}

impl std::ops::Deref for CartComm {
    type Target = Comm;
    fn deref(&self) -> &Comm {
        &self.comm
    }
}

impl Comm {
    /// The same ranks as a grid of `dims[0] × dims[1] × …` ranks, periodic
    /// (wrapping around) in the dimensions where `periods` is true
    /// (`comm.Create_cart(dims, periods, reorder)`). A collective: every
    /// rank passes the same arguments.
    ///
    /// The product of `dims` must be [`Comm::size`] (see [`dims_create`] to
    /// choose them); `reorder` lets MPI renumber the ranks to fit the
    /// machine (the local world keeps them). Anything else (lengths that
    /// differ, a zero dimension, ranks that disagree) is an
    /// [`Error::Argument`] on every rank. mpi4py gives `MPI.COMM_NULL` to
    /// the ranks beyond a smaller grid; here, [`Comm::split`] off those
    /// ranks first.
    ///
    /// ```no_run
    /// # let world = parallel_runtime::mpi::Comm::single();
    /// use parallel_runtime::mpi::dims_create;
    /// let dims = dims_create(world.size(), &[0, 0])?;
    /// let cart = world.create_cart(&dims, &[true, false], false)?;
    /// let (left, right) = cart.shift(0, 1)?;
    /// # Ok::<(), parallel_runtime::mpi::Error>(())
    /// ```
    pub fn create_cart(
        &self,
        dims: &[usize],
        periods: &[bool],
        reorder: bool,
    ) -> Result<CartComm, Error> {
        const OP: &str = "create_cart";
        let _span = crate::trace::op_span(OP);
        // Every rank checks every rank's arguments, so that all refuse
        // together.
        let all = self.allgather(&(dims.to_vec(), periods.to_vec()))?;
        let bad = |detail: String| Error::Argument {
            rank: self.rank(),
            op: OP,
            detail,
        };
        if let Some(r) = all.iter().position(|a| a.0 != dims || a.1 != periods) {
            return Err(bad(format!(
                "rank {r} passes dims {:?} and periods {:?}, this rank {dims:?} and \
                 {periods:?}; every rank must pass the same",
                all[r].0, all[r].1
            )));
        }
        if dims.len() != periods.len() || dims.is_empty() {
            return Err(bad(format!(
                "{} dims and {} periods; pass one period per dimension, at least one",
                dims.len(),
                periods.len()
            )));
        }
        let product = dims.iter().try_fold(1usize, |p, &d| p.checked_mul(d));
        if dims.contains(&0) || product != Some(self.size()) {
            return Err(bad(format!(
                "dims {dims:?} make a grid of {} ranks, but the communicator has {}; \
                 `dims_create({}, &[0; {}])` chooses dims that fit",
                product.map_or_else(|| "too many".to_owned(), |p| p.to_string()),
                self.size(),
                self.size(),
                dims.len()
            )));
        }
        let t = self.t.cart_create(dims, periods, reorder)?;
        Ok(CartComm {
            comm: self.derived(t),
            dims: dims.to_vec(),
            periods: periods.to_vec(),
        })
    }
}

impl CartComm {
    /// The number of ranks along each dimension (`cart.dims`).
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// Whether each dimension wraps around (`cart.periods`).
    pub fn periods(&self) -> &[bool] {
        &self.periods
    }

    /// The communicator, as a plain [`Comm`].
    pub fn comm(&self) -> &Comm {
        &self.comm
    }

    fn bad(&self, op: &'static str, detail: String) -> Error {
        Error::Argument {
            rank: self.rank(),
            op,
            detail,
        }
    }

    /// The grid coordinates of `rank` (`cart.Get_coords(rank)`); a rank
    /// outside the communicator is an [`Error::NoSuchRank`].
    pub fn coords(&self, rank: usize) -> Result<Vec<usize>, Error> {
        if rank >= self.size() {
            return Err(Error::NoSuchRank {
                rank: self.rank(),
                op: "coords",
                target: rank,
                size: self.size(),
            });
        }
        let mut left = rank;
        let mut coords = vec![0; self.dims.len()];
        for (c, &d) in coords.iter_mut().zip(&self.dims).rev() {
            *c = left % d;
            left /= d;
        }
        Ok(coords)
    }

    /// The rank at `coords` (`cart.Get_cart_rank(coords)`). A coordinate
    /// outside `0..dims[i]` wraps around in a periodic dimension, and is an
    /// [`Error::Argument`] in another, as is a wrong number of coordinates.
    pub fn rank_of(&self, coords: &[isize]) -> Result<usize, Error> {
        if coords.len() != self.dims.len() {
            return Err(self.bad(
                "rank_of",
                format!(
                    "{} coordinates given for a grid of {} dimensions",
                    coords.len(),
                    self.dims.len()
                ),
            ));
        }
        let mut rank = 0;
        for (i, &c) in coords.iter().enumerate() {
            let Some(c) = self.wrap(i, c) else {
                return Err(self.bad(
                    "rank_of",
                    format!(
                        "coordinate {c} of dimension {i} is outside 0..{} (not periodic)",
                        self.dims[i]
                    ),
                ));
            };
            rank = rank * self.dims[i] + c;
        }
        Ok(rank)
    }

    /// Coordinate `c` of dimension `i` on the grid: wrapped where periodic,
    /// `None` off a non-periodic edge.
    fn wrap(&self, i: usize, c: isize) -> Option<usize> {
        let d = self.dims[i] as isize;
        if self.periods[i] {
            Some(c.rem_euclid(d) as usize)
        } else {
            (0..d).contains(&c).then_some(c as usize)
        }
    }

    /// This rank's neighbours `disp` steps away along `direction`
    /// (`cart.Shift(direction, disp)`): `(source, dest)`, the rank `disp`
    /// steps back (to receive from) and the one `disp` steps ahead (to send
    /// to). Off a non-periodic edge the neighbour is `None`
    /// (`MPI.PROC_NULL`). A direction outside `0..dims().len()` is an
    /// [`Error::Argument`].
    pub fn shift(
        &self,
        direction: usize,
        disp: isize,
    ) -> Result<(Option<usize>, Option<usize>), Error> {
        if direction >= self.dims.len() {
            return Err(self.bad(
                "shift",
                format!(
                    "direction {direction} is outside 0..{} (the grid's dimensions)",
                    self.dims.len()
                ),
            ));
        }
        let here = self.coords(self.rank())?;
        // In `i128`, so that no `disp` overflows: a periodic dimension has
        // both neighbours at any distance (`isize::MIN` included).
        let d = self.dims[direction] as i128;
        let at = |step: i128| {
            let c = here[direction] as i128 + step;
            let c = if self.periods[direction] {
                c.rem_euclid(d)
            } else if (0..d).contains(&c) {
                c
            } else {
                return None;
            };
            let mut coords: Vec<isize> = here.iter().map(|&x| x as isize).collect();
            coords[direction] = c as isize;
            self.rank_of(&coords).ok()
        };
        Ok((at(-(disp as i128)), at(disp as i128)))
    }
}

/// Dims for a grid of `nnodes` ranks (`MPI.Compute_dims(nnodes, dims)`,
/// `MPI_Dims_create`): `dims` gives one entry per dimension, 0 for those
/// to choose; the chosen ones are as close to each other as MPI makes them
/// (the prime factors, largest first, each to the smallest dimension so
/// far, as Open MPI 4 does), in non-increasing order.
///
/// ```
/// use parallel_runtime::mpi::dims_create;
/// assert_eq!(dims_create(12, &[0, 0])?, [4, 3]);
/// assert_eq!(dims_create(12, &[0, 3, 0])?, [2, 3, 2]);
/// # Ok::<(), parallel_runtime::mpi::Error>(())
/// ```
///
/// Fixed entries that do not divide `nnodes` are an [`Error::Argument`].
pub fn dims_create(nnodes: usize, dims: &[usize]) -> Result<Vec<usize>, Error> {
    let fixed: usize = dims.iter().filter(|&&d| d > 0).product();
    let free = dims.iter().filter(|&&d| d == 0).count();
    let fits = if free == 0 {
        fixed == nnodes
    } else {
        nnodes > 0 && nnodes.is_multiple_of(fixed)
    };
    if !fits {
        // Named without a message: this is a local computation, which a
        // rank may make alone (the maps' communicator, made on first use,
        // is a collective call).
        let rank = super::world::installed_rank().unwrap_or(0);
        return Err(Error::Argument {
            rank,
            op: "dims_create",
            detail: format!("no grid of {nnodes} ranks has the fixed dims of {dims:?}"),
        });
    }
    let mut bins = vec![1usize; free];
    if free > 0 {
        for f in prime_factors(nnodes / fixed).into_iter().rev() {
            let smallest = (0..free).min_by_key(|&i| bins[i]).unwrap_or(0);
            bins[smallest] *= f;
        }
    }
    bins.sort_unstable_by(|a, b| b.cmp(a));
    let mut chosen = bins.into_iter();
    Ok(dims
        .iter()
        .map(|&d| if d > 0 { d } else { chosen.next().unwrap_or(1) })
        .collect())
}

/// The prime factors of `n`, smallest first.
fn prime_factors(mut n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut p = 2;
    while p * p <= n {
        while n.is_multiple_of(p) {
            out.push(p);
            n /= p;
        }
        p += 1;
    }
    if n > 1 {
        out.push(n);
    }
    out
}
