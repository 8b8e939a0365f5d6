//! Reductions with a closure (mpi4py's `comm.reduce(obj, op=f)` and
//! `comm.allreduce(obj, op=f)`): every value travels, and `f` folds them in
//! rank order where the result is wanted.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::check::Checks;
use super::comm::Comm;
use super::error::Error;
use super::transport::Transport;
use crate::codec;

/// Bytes per rank of [`Comm::all_reduce_with`]'s one `MPI_Allgather`: the
/// fingerprint of the value's type, the length of its encoding, and the
/// encoding when it fits (up to [`INLINE`] bytes: a number, a pair, an
/// `Option` of one, a small struct). On 16 ranks of a 16-core machine an
/// `MPI_Allgather` of 32-byte slots took 1.07–1.26× C's `MPI_Allreduce` of
/// one `f64`, of 48-byte slots 1.30–1.51×, of 128-byte slots 1.60–2.33×.
const SLOT: usize = 32;
/// The fingerprint (8 bytes), then the length (4 bytes, little-endian).
const HEAD: usize = 8 + 4;
/// The most bytes of an encoded value that its slot holds.
const INLINE: usize = SLOT - HEAD;
/// The length of a value too long for a `u32`: every rank's encoding then
/// goes through [`Comm::allgather_bytes`], which counts in `u64`.
const HUGE: u32 = u32::MAX;

impl Comm {
    /// Folds every rank's value with `f` in rank order,
    /// `f(f(v0, v1), v2)…`; the result at `root` (`comm.reduce(obj,
    /// op=my_function)`). Any serde type; `f` need not commute.
    pub fn reduce_with<T, F>(&self, root: usize, value: T, f: F) -> Result<Option<T>, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(T, T) -> T,
    {
        const OP: &str = "reduce_with";
        let _span = crate::trace::op_span(OP);
        Ok(self
            .gather_as(OP, root, &value)?
            .and_then(|all| all.into_iter().reduce(f)))
    }

    /// [`Comm::reduce_with`] with the result on every rank
    /// (`comm.allreduce(obj, op=my_function)`).
    ///
    /// Every rank receives all values and folds them itself, in rank
    /// order, so `f` runs on every rank and all get the same result. A
    /// value whose encoding fits in 20 bytes (a number, a pair such as
    /// `(f64, usize)`, an `Option` of one, a small struct) costs one
    /// `MPI_Allgather` of 32-byte slots, within 1.3–1.4× C
    /// `MPI_Allreduce`'s latency; a longer one, one more collective
    /// (`MPI_Allgatherv`), which moves each rank's bytes once. Ranks whose
    /// values are of different types get [`Error::WrongType`] on every
    /// rank, naming the rank and both types.
    pub fn all_reduce_with<T, F>(&self, value: T, mut f: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(T, T) -> T,
    {
        let _span = crate::trace::op_span("all_reduce_with");
        const OP: &str = "all_reduce_with";
        let fingerprint = codec::fingerprint_of::<T>();
        // A slot: the fingerprint, the length of the encoding, and the
        // encoding if it fits (else it is sent by a second collective).
        let mut slot = Vec::with_capacity(SLOT);
        slot.extend_from_slice(&fingerprint.to_le_bytes());
        slot.extend_from_slice(&[0; 4]);
        let slot = codec::encode_bare_after(&value, slot).map_err(Error::codec(self.rank(), OP))?;
        let len = slot.len() - HEAD;
        let (mut slot, long) = if len <= INLINE {
            (slot, Vec::new())
        } else {
            let long = slot[HEAD..].to_vec();
            (slot[..HEAD].to_vec(), long)
        };
        let len = u32::try_from(len).unwrap_or(HUGE);
        slot[8..HEAD].copy_from_slice(&len.to_le_bytes());
        slot.resize(SLOT, 0);
        // One `MPI_Allgather`. (One `MPI_Allreduce` of zeroed slots, each
        // rank's own filled in, bitwise or, was slower: on 16 ranks of a
        // 16-core machine 10.3 µs against 5.7, C's `MPI_Allreduce` 2.7.)
        let mut all = vec![0u8; SLOT * self.size()];
        self.t.all_gather_into(&slot, &mut all, OP)?;
        // Every rank saw the same slots, so all take the same path.
        let fp_of = |s: &[u8]| u64::from_le_bytes(s[..8].try_into().unwrap_or_default());
        let len_of = |s: &[u8]| u32::from_le_bytes(s[8..HEAD].try_into().unwrap_or_default());
        if let Some(other) = all.chunks_exact(SLOT).position(|s| fp_of(s) != fingerprint) {
            return Err(self.type_mismatch(value, other, OP));
        }
        let lens: Vec<u64> = all
            .chunks_exact(SLOT)
            .map(|s| u64::from(len_of(s)))
            .collect();
        // What each rank sends in the second collective, if any.
        let sent: Vec<u64> = lens
            .iter()
            .map(|&n| if n <= INLINE as u64 { 0 } else { n })
            .collect();
        let long = if sent.iter().all(|&n| n == 0) {
            Vec::new()
        } else if lens.contains(&u64::from(HUGE)) {
            self.allgather_bytes(long, OP)?
        } else {
            // Each rank's length is in its slot: no `all_lens` first.
            self.t.check_varcount(OP, &sent)?;
            self.t.allgather_bytes(long, &sent, OP)?
        };
        let mut own = Some(value);
        let mut acc: Option<T> = None;
        for (r, s) in all.chunks_exact(SLOT).enumerate() {
            let v = match own.take_if(|_| r == self.rank()) {
                Some(v) => v,
                // Values that fit come from their slot (and sent nothing
                // more), the others from the second collective.
                None => {
                    let bytes = match sent[r] {
                        0 => &s[HEAD..][..usize::try_from(lens[r]).unwrap_or(INLINE)],
                        _ => &long[r][..],
                    };
                    codec::decode_bare(bytes).map_err(|e| Error::decoding(self.rank(), OP, r, e))?
                }
            };
            acc = Some(match acc {
                None => v,
                Some(a) => f(a, v),
            });
        }
        Ok(acc.unwrap_or_else(|| unreachable!("a communicator has a rank")))
    }

    /// The error of an [`all_reduce_with`](Self::all_reduce_with) whose
    /// ranks hold values of different types: `other`'s fingerprint is not
    /// this rank's (if two ranks differ, every rank sees one that differs
    /// from its own, so every rank is here). Every rank sends its value
    /// with the header naming its type, and the first that is not a `T`
    /// is the error ([`Error::WrongType`], naming its rank and both types).
    #[cold]
    fn type_mismatch<T>(&self, value: T, other: usize, op: &'static str) -> Error
    where
        T: Serialize + DeserializeOwned,
    {
        let mine = match codec::encode(&value) {
            Ok(bytes) => bytes,
            Err(e) => return Error::codec(self.rank(), op)(e),
        };
        let all = match self.allgather_bytes(mine, op) {
            Ok(all) => all,
            Err(e) => return e,
        };
        all.iter()
            .enumerate()
            .filter(|&(r, _)| r != self.rank())
            .find_map(|(r, b)| self.decode::<T>(op, r, b).err())
            .unwrap_or_else(|| Error::Mismatch {
                rank: self.rank(),
                op,
                from: other,
                detail: "its value's type has another fingerprint than this rank's".into(),
            })
    }
}
