//! Lists of task positions for every task of a graph (its inputs, the
//! ranks its result goes to), in two flat vectors instead of one vector
//! each: two allocations per graph instead of one per task.

use std::ops::Index;

/// List `i` is `items[off[i]..off[i + 1]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Lists {
    off: Vec<usize>,
    items: Vec<u32>,
}

impl Lists {
    /// `n` lists, list `i` holding the `b` of every `(a, b)` with `a == i`
    /// that `pairs` gives its callback (called twice: once to count, once
    /// to fill), in the order given.
    pub(crate) fn grouped(n: usize, pairs: impl Fn(&mut dyn FnMut(u32, u32))) -> Lists {
        let mut off = vec![0usize; n + 1];
        pairs(&mut |a, _| off[a as usize + 1] += 1);
        for i in 0..n {
            off[i + 1] += off[i];
        }
        let mut fill = off.clone();
        let mut items = vec![0u32; off[n]];
        pairs(&mut |a, b| {
            items[fill[a as usize]] = b;
            fill[a as usize] += 1;
        });
        Lists { off, items }
    }

    /// The number of lists.
    pub(crate) fn len(&self) -> usize {
        self.off.len().saturating_sub(1)
    }

    /// Each list sorted, without repeats, and without the items `drop`
    /// refuses for its list.
    pub(crate) fn sorted_unique(self, drop: impl Fn(usize, u32) -> bool) -> Lists {
        let Lists { off, mut items } = self;
        let mut out = Vec::with_capacity(off.len());
        out.push(0);
        let mut at = 0;
        for i in 0..off.len().saturating_sub(1) {
            let list = &mut items[off[i]..off[i + 1]];
            list.sort_unstable();
            let mut last = None;
            for k in off[i]..off[i + 1] {
                let x = items[k];
                if last != Some(x) && !drop(i, x) {
                    items[at] = x;
                    at += 1;
                }
                last = Some(x);
            }
            out.push(at);
        }
        items.truncate(at);
        Lists { off: out, items }
    }

    /// As a vector of vectors (for a message).
    pub(crate) fn to_vecs(&self) -> Vec<Vec<u32>> {
        (0..self.len()).map(|i| self[i].to_vec()).collect()
    }
}

impl Index<usize> for Lists {
    type Output = [u32];

    fn index(&self, i: usize) -> &[u32] {
        &self.items[self.off[i]..self.off[i + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_their_order_and_empty_lists() {
        let l = Lists::grouped(3, |each| {
            for (a, b) in [(0, 3), (2, 7), (0, 1)] {
                each(a, b);
            }
        });
        assert_eq!(l.len(), 3);
        assert_eq!(&l[0], &[3, 1]);
        assert!(l[1].is_empty());
        assert_eq!(l.to_vecs(), vec![vec![3, 1], vec![], vec![7]]);
    }

    #[test]
    fn grouped_then_sorted_unique() {
        let pairs = [(2u32, 5u32), (0, 1), (2, 4), (2, 5), (0, 9)];
        let l = Lists::grouped(3, |each| pairs.iter().for_each(|&(a, b)| each(a, b)));
        assert_eq!(l.to_vecs(), vec![vec![1, 9], vec![], vec![5, 4, 5]]);
        let l = l.sorted_unique(|i, x| i == 0 && x == 9);
        assert_eq!(l.to_vecs(), vec![vec![1], vec![], vec![4, 5]]);
    }
}
