//! The relay against a fake upstream (tests/fixtures/fake_upstream.py):
//! byte-exact pass-through both ways, exit statuses, and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use attesta_mcp::{ProxyError, RelayOptions, exit_code, run};
use common::Session;
use serde_json::Value;
use tokio::io::duplex;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_original_bytes_both_ways_and_exits_with_upstream_status() {
    let mut s = Session::fake();
    let init = "{ \"jsonrpc\": \"2.0\",\"id\": 1 , \"method\":\"initialize\",\"params\":{\"clientInfo\":{\"name\":\"caf\u{e9} \\u00e9\"}}}\n";
    s.send(init.as_bytes()).await;
    let reply = s.json().await;
    assert_eq!(reply["result"]["serverInfo"]["name"], "fake-upstream");

    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"method\":\"test/raw\"}\n")
        .await;
    assert_eq!(
        s.line().await,
        "{\"jsonrpc\":  \"2.0\" , \"id\": \"r\", \"result\": {\"text\": \"h\u{e9}llo \\u00e9\"}}\n"
            .as_bytes()
    );

    // A request from the upstream to the client, and the client's answer.
    let ask = b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"test/ask_client\"}\n";
    s.send(ask).await;
    assert_eq!(
        s.line().await,
        b"{\"jsonrpc\":\"2.0\",\"id\":\"srv-1\",\"method\":\"roots/list\"}\n"
    );
    assert_eq!(s.json().await["id"], 2);
    let answer = b"{\"id\" : \"srv-1\", \"jsonrpc\":\"2.0\",   \"result\":{\"roots\":[]}}\n";
    s.send(answer).await;
    let notification = b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
    s.send(notification).await;

    let (result, rest, received) = s.finish().await;
    let status = result.unwrap();
    assert_eq!(status.code(), Some(3), "the upstream's exit status");
    assert_eq!(exit_code(status), 3);
    assert!(rest.is_empty(), "nothing else on stdout: {rest:?}");
    let mut expected = init.as_bytes().to_vec();
    expected.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"method\":\"test/raw\"}\n");
    expected.extend_from_slice(ask);
    expected.extend_from_slice(answer);
    expected.extend_from_slice(notification);
    assert_eq!(
        String::from_utf8_lossy(&received),
        String::from_utf8_lossy(&expected)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_client_json_gets_a_parse_error_and_is_not_forwarded() {
    let mut s = Session::fake();
    s.send(b"{not json\n").await;
    let reply = s.json().await;
    assert_eq!(reply["error"]["code"], -32700);
    assert_eq!(reply["id"], Value::Null);
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
        .await;
    assert_eq!(s.json().await["id"], 1);
    assert_eq!(
        s.upstream_received(),
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n"
    );
    let (result, _, _) = s.finish().await;
    assert_eq!(result.unwrap().code(), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dying_upstream_fails_pending_calls_and_its_status_is_returned() {
    let mut s = Session::fake();
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/exit\"}\n")
        .await;
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"read_note\",\"arguments\":{}}}\n").await;
    let reply = s.json().await;
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["error"]["code"], -32603);
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exited")
    );
    // The proxy ends by itself, without the client closing its side.
    let status = tokio::time::timeout(Duration::from_secs(10), s.proxy)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_an_upstream_that_ignores_stdin_and_sigterm() {
    let script =
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)";
    let mut s = Session::start(vec!["python3".into(), "-c".into(), script.into()], 0);
    // Give python time to install its handler before the signal arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    s.stop.take().unwrap().send(()).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), s.proxy)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(exit_code(status), 128 + 9, "killed by SIGKILL: {status}");
}

#[tokio::test]
async fn a_missing_binary_or_no_command_is_a_clear_error() {
    let (_a, proxy_in) = duplex(64);
    let (proxy_out, _b) = duplex(64);
    let err = run(
        &["/nonexistent/mcp-server".into()],
        &RelayOptions::default(),
        proxy_in,
        proxy_out,
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ProxyError::Spawn { .. }));
    assert!(err.to_string().contains("/nonexistent/mcp-server"));

    let (_a, proxy_in) = duplex(64);
    let (proxy_out, _b) = duplex(64);
    let err = run(
        &[],
        &RelayOptions::default(),
        proxy_in,
        proxy_out,
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ProxyError::NoCommand));
}
