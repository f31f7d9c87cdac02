//! The shard contract shared by the heavy commands (`--shard I/N`): the
//! command's items in their deterministic order (the order the command
//! would use on one machine), cut into N contiguous, balanced blocks;
//! shard I (0-based, as Slurm array and Kubernetes Indexed Job indices
//! are) takes block I. Merging shards 0..N in order gives the items in the
//! single run's order.

use std::ops::Range;

/// One shard of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0-based.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` with 0 ≤ I < N.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: give the shard as I/N, e.g. 0/4 (I from 0 to N-1)"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: the shard index {i:?} is not a number"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: the shard count {n:?} is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "{s:?}: the shard index must be from 0 to N-1 (0-based, as SLURM_ARRAY_TASK_ID from --array=0-{} and JOB_COMPLETION_INDEX are)",
                count.max(1) - 1
            ));
        }
        Ok(Self { index, count })
    }

    /// This shard's block of `len` items: sizes differ by at most one.
    pub fn range(self, len: usize) -> Range<usize> {
        (self.index * len / self.count)..((self.index + 1) * len / self.count)
    }

    /// This shard's items of `items`; an error when it gets none (more
    /// shards than items), so that a run never ends with an empty shard
    /// that looks like success.
    pub fn select<T>(self, mut items: Vec<T>, what: &str) -> anyhow::Result<Vec<T>> {
        let len = items.len();
        let range = self.range(len);
        if range.is_empty() {
            anyhow::bail!(
                "shard {}/{} has no {what}: there are only {len}; use at most {len} shards",
                self.index,
                self.count
            );
        }
        items.truncate(range.end);
        Ok(items.split_off(range.start))
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_every_item_once_in_order_and_balanced() {
        for len in [1usize, 2, 5, 7, 48, 1001] {
            for count in [1usize, 2, 3, 7, 16] {
                let blocks: Vec<Range<usize>> = (0..count)
                    .map(|index| Shard { index, count }.range(len))
                    .collect();
                let joined: Vec<usize> = blocks.iter().flat_map(Clone::clone).collect();
                assert_eq!(joined, (0..len).collect::<Vec<_>>(), "{len} in {count}");
                let sizes: Vec<usize> = blocks.iter().map(ExactSizeIterator::len).collect();
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "{len} in {count}: {sizes:?}");
            }
        }
    }

    #[test]
    fn bad_specs_and_empty_shards_are_refused() {
        for bad in ["3", "4/4", "-1/4", "a/2", "1/0", "1/b"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Shard::parse(" 2 / 7 ").unwrap(),
            Shard { index: 2, count: 7 }
        );
        // 4 items in 7 blocks: blocks 0, 2 and 4 are empty.
        let err = Shard::parse("2/7")
            .unwrap()
            .select(vec![1, 2, 3, 4], "episodes");
        assert!(err.unwrap_err().to_string().contains("only 4"));
        assert_eq!(
            Shard::parse("1/3")
                .unwrap()
                .select((0..7).collect(), "x")
                .unwrap(),
            vec![2, 3]
        );
    }
}
