//! Where recordings go: a spawned native viewer, an `.rrd` file, a viewer
//! already running (gRPC URL), or the web viewer served on localhost. One
//! sink is shared by every episode's recording, so a directory of episodes
//! becomes one `.rrd` (or one viewer session) with a recording per episode.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rerun::log::LogMsg;
use rerun::sink::{LogSink, SinkFlushError};

use crate::ViewError;

/// Batching for `.rrd` files: nobody watches them being written, so larger
/// chunks (fewer, better compressed) and a tighter bound on data in flight,
/// which keeps memory flat however long the episode (the first camera frame
/// is still flushed at once).
const FILE_BATCHING: rerun::log::ChunkBatcherConfig = rerun::log::ChunkBatcherConfig {
    flush_tick: Duration::from_secs(1),
    flush_num_bytes: 4 * 1024 * 1024,
    flush_num_rows: u64::MAX,
    chunk_max_rows_if_unsorted: 8192,
    max_bytes_in_flight: 32 * 1024 * 1024,
};

/// Where to send the recordings.
#[derive(Debug, Clone)]
pub enum Target {
    /// Spawn the native viewer (`rerun` from `executable`, `$REEL_RERUN`, the
    /// set-up's venv or `PATH`) on `port`.
    Spawn {
        /// Explicit viewer binary.
        executable: Option<PathBuf>,
        /// gRPC port of the viewer.
        port: u16,
    },
    /// Write an `.rrd` file.
    Save(PathBuf),
    /// Stream to a running viewer or server (`rerun+http://host:port/proxy`).
    Connect(String),
    /// Serve the web viewer on `127.0.0.1:port` with its data on `grpc_port`.
    Web {
        /// HTTP port of the web viewer.
        port: u16,
        /// gRPC port the page connects to.
        grpc_port: u16,
        /// Open the default browser.
        open_browser: bool,
    },
}

/// Forwards to one shared sink (rerun gives each recording its own sink).
struct SharedSink(Arc<dyn LogSink>, Option<rerun::log::ChunkBatcherConfig>);

impl LogSink for SharedSink {
    fn send(&self, msg: LogMsg) {
        self.0.send(msg);
    }
    fn send_all(&self, messages: Vec<LogMsg>) {
        self.0.send_all(messages);
    }
    fn flush_blocking(&self, timeout: Duration) -> Result<(), SinkFlushError> {
        self.0.flush_blocking(timeout)
    }
    fn default_batcher_config(&self) -> rerun::log::ChunkBatcherConfig {
        self.1.unwrap_or_else(|| self.0.default_batcher_config())
    }
}

/// An open output.
pub struct Output {
    sink: Arc<dyn LogSink>,
    batching: Option<rerun::log::ChunkBatcherConfig>,
    /// What a person opens to see it (URL or file), for the CLI to print.
    pub location: String,
    /// An `.rrd` being written: (partial name, final name). It gets its
    /// final name only in [`Output::close`], so a crash or an error leaves
    /// `<name>.partial`, never a truncated file that looks complete (and an
    /// old file of the same name is replaced at the end, not truncated
    /// before the first frame).
    save: Option<(PathBuf, PathBuf)>,
}

/// Where an `.rrd` is written until it is complete.
pub fn partial_rrd_path(path: &std::path::Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".partial");
    PathBuf::from(name)
}

/// The viewer binary `reel view` spawns, always an absolute path resolved
/// now: `$REEL_RERUN` (made absolute), then the set-up's `.venv/bin/rerun`
/// in a folder above the running executable or in the repository it was
/// built from, then `rerun` in an absolute folder of `PATH`. Never a path
/// relative to the current directory: a `.venv` planted where reel is run
/// must not be what it executes.
pub fn viewer_executable() -> Option<PathBuf> {
    viewer_executable_from(std::env::var_os("REEL_RERUN"), std::env::var_os("PATH"))
}

/// [`viewer_executable`] given `$REEL_RERUN` and `$PATH`.
pub fn viewer_executable_from(
    reel_rerun: Option<std::ffi::OsString>,
    path: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    if let Some(p) = reel_rerun {
        return std::path::absolute(PathBuf::from(p)).ok();
    }
    let beside_executable = std::env::current_exe()
        .ok()
        .and_then(|exe| std::fs::canonicalize(exe).ok())
        .into_iter()
        .flat_map(|exe| {
            exe.ancestors()
                .skip(1)
                .map(|d| d.join(".venv/bin/rerun"))
                .collect::<Vec<_>>()
        });
    // The repository the binary was built from (viewer/ is one level down).
    let built_from =
        std::iter::once(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/rerun"));
    let on_path = path
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.is_absolute())
        .map(|d| d.join("rerun"));
    beside_executable
        .chain(built_from)
        .chain(on_path)
        .filter(|p| p.is_absolute() && p.is_file())
        .find_map(|p| std::fs::canonicalize(p).ok())
}

impl Output {
    /// Opens the target: spawns the viewer, creates the file, or starts the servers.
    pub fn open(target: &Target) -> Result<Self, ViewError> {
        let sink_error =
            |what: &str, e: &dyn std::fmt::Display| ViewError::Sink(format!("{what}: {e}"));
        match target {
            Target::Save(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| ViewError::Input {
                        path: dir.to_path_buf(),
                        reason: format!("cannot create the folder for the .rrd: {e}"),
                    })?;
                }
                let partial = partial_rrd_path(path);
                let sink =
                    rerun::sink::FileSink::new(partial.clone()).map_err(|e| ViewError::Input {
                        path: path.clone(),
                        reason: format!("cannot write the .rrd: {e}"),
                    })?;
                Ok(Self {
                    sink: Arc::new(sink),
                    batching: Some(FILE_BATCHING),
                    location: path.display().to_string(),
                    save: Some((partial, path.clone())),
                })
            }
            Target::Connect(url) => Self::connect(url),
            Target::Spawn { executable, port } => {
                let executable = executable.clone().or_else(viewer_executable).ok_or_else(|| {
                    ViewError::Sink(
                        "no rerun viewer found: run scripts/setup.sh (installs rerun-sdk 0.36.3 in .venv), \
                         set REEL_RERUN, or save a recording (.rrd) or serve the web viewer instead"
                            .into(),
                    )
                })?;
                let opts = rerun::SpawnOptions {
                    port: *port,
                    executable_path: Some(executable.display().to_string()),
                    wait_for_bind: true,
                    ..Default::default()
                };
                rerun::spawn(&opts).map_err(|e| {
                    sink_error(&format!("cannot start {}", executable.display()), &e)
                })?;
                Self::connect(&format!("rerun+http://127.0.0.1:{port}/proxy"))
            }
            Target::Web {
                port,
                grpc_port,
                open_browser,
            } => {
                let sink = rerun::web_viewer::new_sink(
                    *open_browser,
                    "127.0.0.1",
                    (*port).into(),
                    None,
                    *grpc_port,
                    rerun::ServerOptions::default(),
                )
                .map_err(|e| sink_error("cannot serve the web viewer", &e))?;
                Ok(Self {
                    sink: Arc::from(sink),
                    batching: None,
                    save: None,
                    location: format!(
                        "http://127.0.0.1:{port}/?url=rerun%2Bhttp%3A%2F%2F127.0.0.1%3A{grpc_port}%2Fproxy"
                    ),
                })
            }
        }
    }

    fn connect(url: &str) -> Result<Self, ViewError> {
        let uri: rerun::external::re_uri::ProxyUri = url.parse().map_err(|e| {
            ViewError::Sink(format!(
                "{url} is not a viewer address ({e}); use rerun+http://HOST:PORT/proxy"
            ))
        })?;
        Ok(Self {
            sink: Arc::new(rerun::sink::GrpcSink::new(uri)),
            batching: None,
            save: None,
            location: url.to_string(),
        })
    }

    /// A new recording on this output.
    pub fn recording(
        &self,
        name: &str,
        recording_id: &str,
    ) -> Result<rerun::RecordingStream, ViewError> {
        let rec = rerun::RecordingStreamBuilder::new("reel")
            .recording_id(recording_id)
            .recording_name(name)
            .buffered()?;
        rec.set_sink(Box::new(SharedSink(self.sink.clone(), self.batching)));
        // Time is sensor time (or frame index); the SDK's own clock of when
        // the conversion ran would only mislead a reviewer.
        rec.set_log_time_enabled(false);
        rec.set_log_tick_enabled(false);
        rec.send_recording_name(name)?;
        Ok(rec)
    }

    /// Flushes, closes the file sink (rerun writes the `.rrd` footer when
    /// its last handle goes) and gives a saved `.rrd` its final name.
    pub fn close(self) -> Result<(), ViewError> {
        self.flush()?;
        let Self { sink, save, .. } = self;
        drop(sink);
        if let Some((partial, path)) = save {
            reel_episode::fs::commit(&partial, &path).map_err(|e| ViewError::Input {
                path: path.clone(),
                reason: format!("cannot move {} into place: {e}", partial.display()),
            })?;
        }
        Ok(())
    }

    /// Joint samples per chunk sent (see [`crate::columns`]).
    pub fn rows_per_chunk(&self) -> usize {
        if self.save.is_some() {
            crate::columns::FILE_ROWS
        } else {
            crate::columns::STREAM_ROWS
        }
    }

    /// Waits until everything sent has left for the file or the viewer.
    pub fn flush(&self) -> Result<(), ViewError> {
        self.sink
            .flush_blocking(Duration::from_secs(60))
            .map_err(|e| ViewError::Sink(format!("flushing: {e}")))
    }
}
