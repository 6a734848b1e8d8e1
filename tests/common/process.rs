//! Helpers of the tests that run the `negsync` program (feature "iroh"): temporary directories
//! and a running `negsync serve`. Included with `#[path = "common/process.rs"] mod process;`.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A directory under the system's temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `negsync-TEST-PID-NAME`: tests of different binaries and processes never share one.
    pub fn new(test: &str, name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("negsync-{test}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `negsync serve`, stopped when dropped; its output lines come through `lines`.
pub struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// What `negsync sync --peer` takes to reach it, from its `to sync:` line.
    pub peer: String,
    /// What it printed up to its `to sync:` line.
    pub banner: Vec<String>,
    /// Print its lines as they are read (and let its errors through), to show in a test's log.
    echo: bool,
}

impl Server {
    /// Starts `command` (a `negsync serve`) and waits until it says how to reach it.
    pub fn start(mut command: Command, echo: bool) -> Server {
        let stderr = if echo {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("starting negsync serve");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            lines,
            peer: String::new(),
            banner: Vec::new(),
            echo,
        };
        loop {
            let line = server.wait_for("");
            server.banner.push(line.clone());
            if line.contains("to sync:") {
                server.peer = line.rsplit(' ').next().unwrap().to_string();
                return server;
            }
        }
    }

    /// The next output line that contains `what` (with `echo`, the lines before it are printed).
    pub fn wait_for(&self, what: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("negsync serve printed no {what:?}"));
            if self.echo {
                println!("serve | {line}");
            }
            if line.contains(what) {
                return line;
            }
        }
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
