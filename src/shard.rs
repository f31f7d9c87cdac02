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

/// A run's progress where its driver or its user can read it while it
/// runs (`--status FILE`): JSON rewritten atomically, at most once a
/// second while running and once at the end; a run that is killed leaves
/// `"state": "running"` with its last counts.
pub struct Status {
    path: Option<std::path::PathBuf>,
    started: std::time::Instant,
    last_write: std::sync::Mutex<Option<std::time::Instant>>,
    state: std::sync::Mutex<StatusState>,
}

#[derive(Debug, Clone, serde::Serialize)]
struct StatusState {
    command: String,
    shard: Option<String>,
    state: &'static str,
    episodes: usize,
    done: usize,
    failed: Vec<FailedEpisode>,
    elapsed_s: f64,
    updated: String,
    error: Option<String>,
}

/// An episode a run left out, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedEpisode {
    /// The episode file.
    pub episode: String,
    /// The error, as the command printed it.
    pub reason: String,
}

impl Status {
    /// Starts the status of `command` over `episodes` items (written to
    /// `path`, when given).
    pub fn start(
        path: Option<&std::path::Path>,
        command: &str,
        shard: Option<Shard>,
        episodes: usize,
    ) -> anyhow::Result<Self> {
        let status = Self {
            path: path.map(std::path::Path::to_path_buf),
            started: std::time::Instant::now(),
            last_write: std::sync::Mutex::new(None),
            state: std::sync::Mutex::new(StatusState {
                command: command.to_string(),
                shard: shard.map(|s| s.to_string()),
                state: "running",
                episodes,
                done: 0,
                failed: Vec::new(),
                elapsed_s: 0.0,
                updated: String::new(),
                error: None,
            }),
        };
        status.write(true)?;
        Ok(status)
    }

    /// `done` episodes finished so far.
    pub fn progress(&self, done: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.done = done;
        }
        // A status that cannot be written must not stop the work; the
        // final write reports the problem.
        let _ = self.write(false);
    }

    /// An episode left out.
    pub fn failed(&self, episode: &std::path::Path, reason: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.failed.push(FailedEpisode {
                episode: episode.display().to_string(),
                reason: reason.to_string(),
            });
        }
        let _ = self.write(true);
    }

    /// The episodes left out so far.
    pub fn failures(&self) -> Vec<FailedEpisode> {
        self.state
            .lock()
            .map(|s| s.failed.clone())
            .unwrap_or_default()
    }

    /// The run ended: `Ok` with `done` episodes, or the error.
    pub fn finish(&self, done: usize, result: Result<(), &anyhow::Error>) -> anyhow::Result<()> {
        if let Ok(mut s) = self.state.lock() {
            s.done = done;
            match result {
                Ok(()) => s.state = "done",
                Err(e) => {
                    s.state = "failed";
                    s.error = Some(format!("{e:#}"));
                }
            }
        }
        self.write(true)
    }

    fn write(&self, now: bool) -> anyhow::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if let Ok(mut last) = self.last_write.lock() {
            if !now && last.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1)) {
                return Ok(());
            }
            *last = Some(std::time::Instant::now());
        }
        let json = {
            let mut s = self
                .state
                .lock()
                .map_err(|_| anyhow::anyhow!("status lock poisoned"))?;
            s.elapsed_s = (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
            s.updated = reel_episode::time::format_utc(reel_episode::time::host_now_nanos());
            serde_json::to_vec_pretty(&*s)?
        };
        reel_episode::fs::write_atomically(path, &json)
            .map_err(|e| anyhow::anyhow!("{}: cannot write the status: {e}", path.display()))
    }
}
