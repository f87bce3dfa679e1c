//! `attesta` in its own session with a pseudo-terminal as its controlling
//! terminal and as stdin/stdout/stderr, driven as a person would.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{self, Winsize};

/// Longest wait for any one thing to appear.
const STEP: Duration = Duration::from_secs(30);

/// `attesta` running in its own session with a pseudo-terminal as its
/// controlling terminal and as stdin/stdout/stderr.
pub struct Session {
    pub child: Child,
    pub master: std::fs::File,
    screen: Arc<Mutex<Vec<u8>>>,
    /// How much of the screen earlier `expect`s consumed.
    pub seen: usize,
}

impl Session {
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        Self::start_with_env(dir, args, &[])
    }

    /// Like [`Session::start`], with extra environment variables.
    pub fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let master: OwnedFd =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY,
            Mode::empty(),
        )
        .unwrap();
        let size = Winsize {
            ws_row: 60,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        termios::tcsetwinsize(&slave, size).unwrap();
        let slave = std::fs::File::from(slave);
        // util-linux `setsid --ctty` makes the terminal on stdin the new
        // session's controlling terminal (no unsafe pre_exec needed).
        let child = Command::new("setsid")
            .args(["--ctty", "--wait", env!("CARGO_BIN_EXE_attesta")])
            .args(args)
            .current_dir(dir)
            .env("TERM", "xterm-256color")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("setsid (util-linux) runs attesta");
        let master = std::fs::File::from(master);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self {
            child,
            master,
            screen,
            seen: 0,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits for `needle` after what was already matched; returns the text
    /// between the previous match and the end of this one.
    pub fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let text = self.text();
            if let Some(at) = text.get(self.seen..).and_then(|rest| rest.find(needle)) {
                let start = self.seen;
                self.seen += at + needle.len();
                return text[start..self.seen].to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "waited {STEP:?} for {needle:?}; screen:\n{}",
                &text[self.seen.min(text.len())..]
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn send(&mut self, line: &str) {
        self.master.write_all(line.as_bytes()).unwrap();
        self.master.write_all(b"\r").unwrap();
    }

    pub fn finish(mut self) -> String {
        let deadline = Instant::now() + STEP;
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "attesta did not exit:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
        self.text()
    }
}
