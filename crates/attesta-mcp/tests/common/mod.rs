//! Shared helpers: a proxy on in-memory pipes in front of the fake upstream.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use attesta_mcp::{ProxyError, RelayOptions, ToolGate, run};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, duplex};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub fn fixture() -> OsString {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fake_upstream.py")
        .into_os_string()
}

/// A proxy running on in-memory pipes, as the client sees it.
pub struct Session {
    pub to_proxy: Option<DuplexStream>,
    pub from_proxy: BufReader<DuplexStream>,
    pub stop: Option<oneshot::Sender<()>>,
    pub proxy: JoinHandle<Result<ExitStatus, ProxyError>>,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Session {
    pub fn start(argv: Vec<OsString>, exit: u8) -> Self {
        Self::start_gated(argv, exit, None)
    }

    pub fn start_gated(argv: Vec<OsString>, exit: u8, gate: Option<Arc<ToolGate>>) -> Self {
        Self::start_with(
            argv,
            exit,
            RelayOptions {
                gate,
                ..RelayOptions::default()
            },
        )
    }

    pub fn start_with(argv: Vec<OsString>, exit: u8, options: RelayOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("upstream.log");
        // The child inherits the environment; each test names its own log.
        let mut full = vec![OsString::from("env")];
        full.push(format!("FAKE_LOG={}", log.display()).into());
        full.push(format!("FAKE_EXIT={exit}").into());
        full.extend(argv);
        let (to_proxy, proxy_in) = duplex(1 << 16);
        let (proxy_out, from_proxy) = duplex(1 << 16);
        let (stop, stopped) = oneshot::channel::<()>();
        let options = RelayOptions {
            grace: Duration::from_millis(300),
            keepalive: Duration::from_millis(200),
            ..options
        };
        let proxy = tokio::spawn(async move {
            run(&full, &options, proxy_in, proxy_out, async {
                let _ = stopped.await;
            })
            .await
        });
        Self {
            to_proxy: Some(to_proxy),
            from_proxy: BufReader::new(from_proxy),
            stop: Some(stop),
            proxy,
            log,
            _dir: dir,
        }
    }

    pub fn fake() -> Self {
        Self::start(vec!["python3".into(), fixture()], 3)
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        let pipe = self.to_proxy.as_mut().unwrap();
        pipe.write_all(bytes).await.unwrap();
        pipe.flush().await.unwrap();
    }

    pub async fn line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            self.from_proxy.read_until(b'\n', &mut line),
        )
        .await
        .expect("the proxy answers within 10 s")
        .unwrap();
        line
    }

    pub async fn json(&mut self) -> Value {
        serde_json::from_slice(&self.line().await).unwrap()
    }

    /// Closes the client's side and returns the proxy's result, all
    /// remaining output, and every byte the upstream received.
    pub async fn finish(mut self) -> (Result<ExitStatus, ProxyError>, Vec<u8>, Vec<u8>) {
        drop(self.to_proxy.take());
        let result = tokio::time::timeout(Duration::from_secs(10), self.proxy)
            .await
            .expect("the proxy exits within 10 s")
            .unwrap();
        let mut rest = Vec::new();
        while let Ok(n) = self.from_proxy.read_until(b'\n', &mut rest).await {
            if n == 0 {
                break;
            }
        }
        drop(self.stop);
        let received = std::fs::read(&self.log).unwrap_or_default();
        (result, rest, received)
    }

    pub fn upstream_received(&self) -> Vec<u8> {
        std::fs::read(&self.log).unwrap_or_default()
    }
}
