//! A real Ray cluster on loopback for the sharded-run tests and benchmark:
//! `ray start --head` and `ray start --address` of the `.venv-ray` venv,
//! usage reporting off, one token for nodes and drivers; stopped on drop,
//! however the test ends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The token the cluster's nodes and drivers share (Ray 2.60 checks it).
const TOKEN: &str = "reel-test-0d5c8f2a9b7e41c3a6f0e2d4b8c1a7f3";

/// `program` of the venv whose `bin` folder is `bin` (`ray`, `reel-ray`,
/// `python`), with usage reporting off and the cluster's token.
pub fn in_venv(bin: &Path, program: &str) -> Command {
    let mut c = Command::new(bin.join(program));
    c.env("RAY_USAGE_STATS_ENABLED", "0")
        .env("RAY_AUTH_MODE", "token")
        .env("RAY_AUTH_TOKEN", TOKEN);
    c
}

/// A running cluster; `ray stop --force` on drop.
pub struct RayCluster {
    bin: PathBuf,
    /// `127.0.0.1:PORT` of the head.
    pub address: String,
}

impl RayCluster {
    /// Starts `nodes` nodes of `cpus` CPUs each on 127.0.0.1 and waits until
    /// all have joined (Ray processes left by an earlier run are stopped).
    pub fn start(bin: &Path, nodes: usize, cpus: u32) -> Self {
        let _ = in_venv(bin, "ray").args(["stop", "--force"]).output();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port().to_string())
            .expect("a free port");
        let cluster = Self {
            bin: bin.to_path_buf(),
            address: format!("127.0.0.1:{port}"),
        };
        let cpus = cpus.to_string();
        started(
            in_venv(bin, "ray")
                .args([
                    "start",
                    "--head",
                    "--node-ip-address",
                    "127.0.0.1",
                    "--port",
                    &port,
                ])
                .args(["--num-cpus", &cpus, "--include-dashboard", "false"])
                .arg("--disable-usage-stats"),
            "ray start --head",
        );
        for _ in 1..nodes {
            started(
                in_venv(bin, "ray")
                    .args(["start", "--address", &cluster.address])
                    .args(["--node-ip-address", "127.0.0.1", "--num-cpus", &cpus])
                    .arg("--disable-usage-stats"),
                "ray start --address",
            );
        }
        let t = Instant::now();
        loop {
            let o = in_venv(bin, "ray")
                .args(["status", "--address", &cluster.address])
                .output()
                .expect("ray status");
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            if text.matches("node_").count() >= nodes {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "only some of {nodes} Ray nodes joined: {text}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        cluster
    }
}

impl Drop for RayCluster {
    fn drop(&mut self) {
        let _ = in_venv(&self.bin, "ray").args(["stop", "--force"]).output();
    }
}

fn started(cmd: &mut Command, what: &str) {
    let o = cmd.output().expect("ray");
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
