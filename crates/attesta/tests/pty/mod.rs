//! A small expect-style harness: runs `examples/tty_probe` in its own session
//! whose controlling terminal is a fresh pseudo-terminal, with stdin empty
//! and stdout a pipe (as under an MCP client), and lets a test read the
//! screen, type keys, and collect the JSON the probe prints.
//!
//! Every wait is bounded by [`STEP`], so a broken channel fails the test
//! instead of hanging it.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::{Mode, OFlags};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{self, LocalModes, Winsize};
use serde_json::Value;

/// Longest wait for any one thing (generous for a loaded CI machine; a
/// passing run never comes close).
pub(crate) const STEP: Duration = Duration::from_secs(20);

/// The probe binary, brought up to date once per test run: `cargo test`
/// builds examples, but `cargo test --test terminal_pty` does not, and a
/// stale probe would test old code.
fn probe_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/terminal_pty-<hash> -> target/<profile>
        let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
        let path = profile_dir.join("examples").join("tty_probe");
        {
            let mut build = Command::new(option_env!("CARGO").unwrap_or("cargo"));
            // With `remote`, so `--config` can name an approval server.
            build.args([
                "build",
                "-q",
                "-p",
                "attesta",
                "--features",
                "remote",
                "--example",
                "tty_probe",
            ]);
            if profile_dir.ends_with("release") {
                build.arg("--release");
            }
            let status = build.status().unwrap();
            assert!(status.success(), "building tty_probe failed");
        }
        path
    })
    .clone()
}

/// What the probe gets on stdin.
#[derive(Debug, Clone)]
enum Stdin {
    /// `/dev/null`.
    Empty,
    /// These bytes, then the end.
    Bytes(Vec<u8>),
    /// A pipe the test writes to.
    Open,
}

/// Bytes the probe drew on the terminal, filled by a reader thread.
#[derive(Default)]
struct Screen {
    bytes: Mutex<Vec<u8>>,
    grew: Condvar,
}

/// Options for one probe run.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    args: Vec<String>,
    env: Vec<(String, String)>,
    columns: u16,
    stdin: Stdin,
    attach: bool,
}

impl Run {
    /// The probe with these arguments, on an 80-column colour terminal.
    pub(crate) fn probe<I: IntoIterator<Item = S>, S: Into<String>>(args: I) -> Self {
        Self {
            args: args.into_iter().map(Into::into).collect(),
            env: vec![("TERM".to_owned(), "xterm-256color".to_owned())],
            columns: 80,
            stdin: Stdin::Empty,
            attach: true,
        }
    }

    /// Sets an environment variable for the probe.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The terminal's width.
    pub(crate) fn columns(mut self, columns: u16) -> Self {
        self.columns = columns;
        self
    }

    /// Feeds these bytes on stdin (then closes it) instead of `/dev/null`.
    pub(crate) fn stdin(mut self, bytes: &[u8]) -> Self {
        self.stdin = Stdin::Bytes(bytes.to_vec());
        self
    }

    /// Keeps stdin an open pipe for [`Probe::write_stdin`].
    pub(crate) fn stdin_open(mut self) -> Self {
        self.stdin = Stdin::Open;
        self
    }

    /// Runs the probe with no controlling terminal at all.
    pub(crate) fn without_terminal(mut self) -> Self {
        self.attach = false;
        self
    }

    /// Starts the probe.
    pub(crate) fn start(self) -> Probe {
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let slave_path = ptsname(&master, Vec::new()).unwrap();
        let slave = rustix::fs::open(
            slave_path.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let size = Winsize {
            ws_row: 50,
            ws_col: self.columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        termios::tcsetwinsize(&slave, size).unwrap();

        let mut cmd = Command::new(probe_path());
        if self.attach {
            cmd.arg("--attach-tty").arg(slave_path.to_str().unwrap());
        } else {
            cmd.arg("--detach");
        }
        cmd.args(&self.args)
            .env_remove("NO_COLOR")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if matches!(self.stdin, Stdin::Empty) {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take();
        if let Stdin::Bytes(bytes) = &self.stdin {
            let mut pipe = stdin.take().unwrap();
            std::io::Write::write_all(&mut pipe, bytes).unwrap();
            // Dropping the pipe closes it: the probe sees the end of stdin.
        }
        let stdout = drain(child.stdout.take().unwrap());
        let stderr = drain(child.stderr.take().unwrap());

        let master = Arc::new(master);
        let screen = Arc::new(Screen::default());
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (master, screen, stop) =
                (Arc::clone(&master), Arc::clone(&screen), Arc::clone(&stop));
            std::thread::spawn(move || read_screen(&master, &screen, &stop))
        };
        Probe {
            child,
            stdin,
            master,
            slave,
            screen,
            seen: 0,
            stop,
            reader: Some(reader),
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }
}

fn drain<R: Read + Send + 'static>(mut from: R) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = from.read_to_end(&mut out);
        out
    })
}

fn read_screen(master: &OwnedFd, screen: &Screen, stop: &AtomicBool) {
    let wait = Timespec::try_from(Duration::from_millis(20)).unwrap();
    let mut buf = [0; 4096];
    while !stop.load(Ordering::Acquire) {
        let mut fds = [PollFd::new(master, PollFlags::IN)];
        match poll(&mut fds, Some(&wait)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(_) => return,
        }
        match rustix::io::read(master, &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                screen.bytes.lock().unwrap().extend_from_slice(&buf[..n]);
                screen.grew.notify_all();
            }
        }
    }
}

/// A running probe.
pub(crate) struct Probe {
    child: Child,
    stdin: Option<ChildStdin>,
    master: Arc<OwnedFd>,
    /// Our own handle on the terminal, to inspect its settings afterwards.
    slave: OwnedFd,
    screen: Arc<Screen>,
    /// How far [`Probe::expect`] has read.
    seen: usize,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Probe {
    /// Waits until `needle` appears on screen after what was already
    /// matched; fails the test after [`STEP`].
    pub(crate) fn expect(&mut self, needle: &str) -> &mut Self {
        let deadline = Instant::now() + STEP;
        let screen = Arc::clone(&self.screen);
        let mut bytes = screen.bytes.lock().unwrap();
        loop {
            if let Some(at) = find(&bytes[self.seen..], needle.as_bytes()) {
                self.seen += at + needle.len();
                drop(bytes);
                return self;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited {STEP:?} for {needle:?}; screen after the last match:\n{}",
                String::from_utf8_lossy(&bytes[self.seen..])
            );
            bytes = self.screen.grew.wait_timeout(bytes, left).unwrap().0;
        }
    }

    /// Types bytes at the keyboard.
    pub(crate) fn send(&mut self, keys: &[u8]) -> &mut Self {
        let mut rest = keys;
        while !rest.is_empty() {
            let n = rustix::io::write(&*self.master, rest).unwrap();
            rest = &rest[n..];
        }
        self
    }

    /// Writes to the probe's stdin (see [`Run::stdin_open`]).
    pub(crate) fn write_stdin(&mut self, bytes: &[u8]) -> &mut Self {
        let pipe = self.stdin.as_mut().unwrap();
        std::io::Write::write_all(pipe, bytes).unwrap();
        self
    }

    /// Everything drawn so far.
    pub(crate) fn screen(&self) -> Vec<u8> {
        self.screen.bytes.lock().unwrap().clone()
    }

    /// Waits until the screen has been quiet for a moment, so bytes drawn
    /// just before the probe exited are in [`Probe::screen`].
    fn settle(&self) {
        let quiet = Duration::from_millis(200);
        let deadline = Instant::now() + STEP;
        let mut bytes = self.screen.bytes.lock().unwrap();
        loop {
            let before = bytes.len();
            bytes = self.screen.grew.wait_timeout(bytes, quiet).unwrap().0;
            if bytes.len() == before || Instant::now() > deadline {
                return;
            }
        }
    }

    /// Whether the terminal is back in its normal (canonical, echoing)
    /// mode.
    pub(crate) fn terminal_restored(&self) -> bool {
        let t = termios::tcgetattr(&self.slave).unwrap();
        t.local_modes
            .contains(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG)
    }

    /// Waits for the probe to exit and returns its JSON output.
    pub(crate) fn finish(&mut self) -> Value {
        let deadline = Instant::now() + STEP;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the probe did not exit within {STEP:?}; screen:\n{}",
                String::from_utf8_lossy(&self.screen())
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        self.settle();
        let stdout = self.stdout.take().unwrap().join().unwrap();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        assert!(
            status.success(),
            "probe failed ({status}): {}",
            String::from_utf8_lossy(&stderr)
        );
        let text = String::from_utf8(stdout).unwrap();
        let line = text
            .lines()
            .last()
            .unwrap_or_else(|| panic!("no output; stderr: {}", String::from_utf8_lossy(&stderr)));
        serde_json::from_str(line).unwrap()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        // Only our own child, and only if a failed test left it running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.stop.store(true, Ordering::Release);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
