//! The controlling terminal itself: opening `/dev/tty`, raw mode that is
//! always undone, its width, and reads that wait with a timeout so a
//! withdrawn request is noticed.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::{Mode, OFlags};
use rustix::termios::{self, OptionalActions, OutputModes, SpecialCodeIndex, Termios};

/// The process's controlling terminal, whatever stdin and stdout are.
pub(super) const TTY_PATH: &str = "/dev/tty";

/// An open terminal device.
#[derive(Debug)]
pub(super) struct Tty {
    file: File,
}

impl Tty {
    /// Opens the controlling terminal. Fails (`ENXIO`) when the process has
    /// none: started by a service manager, under `setsid`, in CI.
    pub(super) fn open() -> io::Result<Self> {
        // NOCTTY: opening must never make this terminal ours if we had none.
        let fd = rustix::fs::open(
            TTY_PATH,
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Self::from_fd(fd)
    }

    /// Wraps an already open terminal device; fails if it is not one.
    pub(super) fn from_fd(fd: OwnedFd) -> io::Result<Self> {
        if !termios::isatty(&fd) {
            return Err(io::Error::other("not a terminal"));
        }
        Ok(Self {
            file: File::from(fd),
        })
    }

    /// The terminal's width in columns, if it reports one.
    pub(super) fn columns(&self) -> Option<usize> {
        termios::tcgetwinsize(&self.file)
            .ok()
            .map(|size| usize::from(size.ws_col))
            .filter(|&cols| cols > 0)
    }

    /// Whether this process may use the terminal now. A background job that
    /// touches its terminal is stopped by the kernel (SIGTTIN/SIGTTOU), and
    /// a stopped process cannot even time out, so it must not try. When the
    /// terminal cannot say, assume yes and let the reads report problems.
    pub(super) fn in_foreground(&self) -> bool {
        termios::tcgetpgrp(&self.file).map_or(true, |fg| fg == rustix::process::getpgrp())
    }

    /// Switches to raw input until the returned guard is dropped. Type-ahead
    /// is discarded, so keys pressed before the prompt appeared cannot
    /// answer it.
    pub(super) fn enter_raw(&self) -> io::Result<RawMode<'_>> {
        let saved = termios::tcgetattr(&self.file)?;
        let mut raw = saved.clone();
        raw.make_raw();
        // Raw input, but keep output processing so "\n" still returns to
        // column 0 and the renderer does not have to know about raw mode.
        raw.output_modes |= OutputModes::OPOST | OutputModes::ONLCR;
        raw.special_codes[SpecialCodeIndex::VMIN] = 1;
        raw.special_codes[SpecialCodeIndex::VTIME] = 0;
        termios::tcsetattr(&self.file, OptionalActions::Flush, &raw)?;
        Ok(RawMode { tty: self, saved })
    }

    /// Waits up to `wait` for input. `Ok(true)` also on hang-up, so the
    /// following read sees the end of input.
    pub(super) fn wait_readable(&self, wait: Duration) -> io::Result<bool> {
        let timeout = Timespec::try_from(wait).map_err(io::Error::other)?;
        let mut fds = [PollFd::new(&self.file, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            // A signal interrupting the wait is just a shorter wait.
            Ok(0) | Err(rustix::io::Errno::INTR) => Ok(false),
            Ok(_) => Ok(true),
            Err(err) => Err(err.into()),
        }
    }

    /// Reads what input there is; 0 means the terminal is gone.
    pub(super) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match (&self.file).read(buf) {
                Ok(n) => return Ok(n),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                // Linux reports a hung-up terminal as EIO rather than EOF.
                Err(err) if err.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => {
                    return Ok(0);
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Writes all of `bytes` to the screen.
    pub(super) fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        (&self.file).write_all(bytes)?;
        (&self.file).flush()
    }
}

impl AsFd for Tty {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Raw mode on a [`Tty`]; dropping it restores the previous settings, also
/// when a prompt ends in an error or a panic unwinds through it.
#[derive(Debug)]
pub(super) struct RawMode<'t> {
    tty: &'t Tty,
    saved: Termios,
}

impl RawMode<'_> {
    /// The terminal in raw mode.
    pub(super) fn tty(&self) -> &Tty {
        self.tty
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        // Nothing useful can be done if this fails (the terminal is gone);
        // `Now` rather than `Drain` so a stopped terminal cannot block us.
        let _ = termios::tcsetattr(&self.tty.file, OptionalActions::Now, &self.saved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use rustix::termios::LocalModes;

    /// A fresh pseudo-terminal: (master, slave as a Tty).
    fn pty() -> (OwnedFd, Tty) {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        (master, Tty::from_fd(slave).unwrap())
    }

    fn canonical(tty: &Tty) -> bool {
        let t = termios::tcgetattr(tty).unwrap();
        t.local_modes
            .contains(LocalModes::ICANON | LocalModes::ECHO)
    }

    #[test]
    fn raw_mode_is_undone_on_drop_and_on_panic() {
        let (_master, tty) = pty();
        assert!(canonical(&tty));
        {
            let _raw = tty.enter_raw().unwrap();
            assert!(!canonical(&tty));
        }
        assert!(canonical(&tty));

        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _raw = tty.enter_raw().unwrap();
            panic!("prompt blew up");
        }));
        assert!(unwound.is_err());
        assert!(canonical(&tty), "a panic must not leave the terminal raw");
    }

    #[test]
    fn reports_width_and_waits_with_a_timeout() {
        let (master, tty) = pty();
        termios::tcsetwinsize(
            &tty,
            termios::Winsize {
                ws_row: 24,
                ws_col: 57,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )
        .unwrap();
        assert_eq!(tty.columns(), Some(57));
        let _raw = tty.enter_raw().unwrap();
        assert!(!tty.wait_readable(Duration::from_millis(20)).unwrap());
        rustix::io::write(&master, b"x").unwrap();
        assert!(tty.wait_readable(Duration::from_secs(5)).unwrap());
        let mut buf = [0; 8];
        assert_eq!(tty.read(&mut buf).unwrap(), 1);
        assert_eq!(buf[0], b'x');
    }

    #[test]
    fn a_file_that_is_not_a_terminal_is_refused() {
        let file = tempfile::tempfile().unwrap();
        assert!(Tty::from_fd(OwnedFd::from(file)).is_err());
    }
}
