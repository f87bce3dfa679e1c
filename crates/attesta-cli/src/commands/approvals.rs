//! `attesta approvals …`: approvers answer from their own terminal, through
//! the approval server's API.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use attesta::channel::{Channel, Prompt, TerminalChannel, TerminalConfig};
use attesta::remote::ApiClient;
use serde_json::{Value, json};

use crate::cli::{ApprovalsArgs, ApprovalsCommand};
use crate::config;

/// `attesta approvals …`.
pub(crate) fn run(args: &ApprovalsArgs) -> anyhow::Result<ExitCode> {
    let (policy, _) = config::load_policy(args.config.as_deref())?;
    let client = client(args, &policy)?;
    let runtime = super::two_worker_runtime()?;
    runtime.block_on(async {
        match &args.command {
            ApprovalsCommand::List { json } => list(&client, *json).await,
            ApprovalsCommand::Show { id, json } => show(&client, id, *json).await,
            ApprovalsCommand::Answer { id } => answer(&client, &policy, id).await,
            ApprovalsCommand::Cancel { id, json } => cancel(&client, id, *json).await,
        }
    })
}

/// The server and token, from flags, the environment, or the policy.
fn client(args: &ApprovalsArgs, policy: &attesta::Policy) -> anyhow::Result<ApiClient> {
    let settings = policy.approvals.as_ref();
    let server = args
        .server
        .clone()
        .or_else(|| {
            std::env::var("ATTESTA_SERVER")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .or_else(|| settings.map(|s| s.server.clone()))
        .context(
            "no approval server: pass --server URL, set ATTESTA_SERVER, or set \
             policy.approvals.server in attesta.yaml",
        )?;
    let token_env = settings.map_or("ATTESTA_TOKEN", |s| s.token_env.as_str());
    let token_file = args
        .token_file
        .clone()
        .or_else(|| settings.and_then(|s| s.token_file.clone()));
    let token = match token_file {
        Some(path) => read_token(&path)?,
        None => std::env::var(token_env).ok().filter(|t| !t.trim().is_empty()).with_context(|| {
            format!(
                "no token: set {token_env} to your token (from `attesta server principals add`), \
                 or pass --token-file FILE"
            )
        })?,
    };
    Ok(ApiClient::new(&server, &token)?)
}

/// A token file, refused if others can read it.
pub(crate) fn read_token(path: &std::path::Path) -> anyhow::Result<String> {
    attesta::remote::read_token_file(path).map_err(anyhow::Error::msg)
}

fn expires_in(deadline_ms: i64) -> String {
    let left = (deadline_ms - chrono::Utc::now().timestamp_millis()) / 1000;
    match left {
        s if s <= 0 => "expired".to_owned(),
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

async fn list(client: &ApiClient, json: bool) -> anyhow::Result<ExitCode> {
    let inbox = client.get("/v1/inbox").await?;
    if json {
        println!("{inbox}");
        return Ok(ExitCode::SUCCESS);
    }
    let items = inbox.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        println!("nothing waits for you");
    }
    for item in items {
        let slots = item["slots"].as_array().cloned().unwrap_or_default();
        let done = slots.iter().filter(|s| s["state"] != "open").count();
        println!(
            "{id}  {level:<8} {action}\n    requested by {who}; {done}/{all} approvers; expires in {left}",
            id = item["id"].as_str().unwrap_or("?"),
            level = item["risk_level"].as_str().unwrap_or("?").to_uppercase(),
            action = item["action"].as_str().unwrap_or("?"),
            who = item["requester"].as_str().unwrap_or("?"),
            all = slots.len(),
            left = expires_in(item["deadline_ms"].as_i64().unwrap_or(0)),
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn open_slot(client: &ApiClient, id: &str) -> anyhow::Result<(Value, Prompt)> {
    let slot = client
        .post(&format!("/v1/approvals/{id}/slot"), &json!({}))
        .await?;
    let prompt: Prompt = serde_json::from_value(slot["prompt"].clone())
        .context("the server sent a prompt this attesta cannot read; upgrade attesta")?;
    Ok((slot, prompt))
}

async fn show(client: &ApiClient, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let (slot, prompt) = open_slot(client, id).await?;
    if json {
        println!("{slot}");
        return Ok(ExitCode::SUCCESS);
    }
    let action = &prompt.action;
    println!(
        "approval {id}: slot {} of {} ({})",
        slot["index"], slot["of"], prompt.challenge_type
    );
    println!(
        "risk {} ({:.2})\n\n  {}\n",
        prompt.risk_level.as_str().to_uppercase(),
        prompt.risk_score,
        action.call
    );
    if !action.environment.is_empty() {
        println!("environment: {}", action.environment);
    }
    if let Some(agent) = &action.agent_id {
        println!("requested by agent: {agent}");
    }
    if !action.risk_factors.is_empty() {
        println!("why it is risky:");
        for factor in &action.risk_factors {
            println!("  - {factor}");
        }
    }
    println!("\n{}", prompt.instructions);
    for (n, question) in prompt.questions.iter().enumerate() {
        println!("  {}. {}", n + 1, question.text);
        for option in &question.options {
            println!("       - {option}");
        }
    }
    println!("\nanswer with: attesta approvals answer {id}");
    Ok(ExitCode::SUCCESS)
}

async fn answer(
    client: &ApiClient,
    policy: &attesta::Policy,
    id: &str,
) -> anyhow::Result<ExitCode> {
    let (slot, mut prompt) = open_slot(client, id).await?;
    // Who answers is the token's principal, proven to the server; the
    // terminal asks no identity of its own.
    prompt.approver = None;
    eprintln!(
        "attesta: approval {id}, slot {} of {}",
        slot["index"], slot["of"]
    );
    let terminal: Arc<dyn Channel> =
        Arc::new(TerminalChannel::new(TerminalConfig::from_policy(policy)));
    let response = match terminal.ask(&prompt).await {
        Ok(response) => response,
        Err(err) => bail!("{err}; nothing was sent, the slot is still yours to answer"),
    };
    let mut body = json!({"answers": response.answers});
    if slot["totp_required"] == true {
        body["totp"] = json!(read_code()?);
    }
    let result = client
        .post(&format!("/v1/approvals/{id}/answer"), &body)
        .await?;
    let state = result["approval"]["state"].as_str().unwrap_or("?");
    if result["passed"] == true {
        println!(
            "passed: slot {} of approval {id} is approved by you; the approval is {state}",
            result["index"]
        );
        Ok(ExitCode::SUCCESS)
    } else {
        let reason = result["reason"]
            .as_str()
            .unwrap_or("the answer was not accepted");
        println!("not passed: {reason}; the approval is {state}");
        Ok(ExitCode::from(1))
    }
}

/// The approver's one-time code, typed at the terminal.
fn read_code() -> anyhow::Result<String> {
    use std::io::{BufRead as _, Write as _};
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .context("a one-time code is needed, but there is no terminal to type it at")?;
    tty.write_all(b"one-time code from your authenticator: ")?;
    tty.flush()?;
    let mut line = String::new();
    std::io::BufReader::new(tty).read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

async fn cancel(client: &ApiClient, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let cancelled = client
        .post(&format!("/v1/approvals/{id}/cancel"), &json!({}))
        .await?;
    if json {
        println!("{cancelled}");
    } else {
        println!(
            "approval {id} is {}",
            cancelled["state"].as_str().unwrap_or("?")
        );
    }
    Ok(ExitCode::SUCCESS)
}
