//! `attesta trust show|list|revoke|reset`: the trust store as an operator
//! sees it.

use std::io::{self, BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use attesta::clock::SystemClock;
use attesta::{TrustEngine, TrustProfile, TrustSettings};
use chrono::NaiveDateTime;
use serde_json::{Value, json};

use crate::cli::{TrustArgs, TrustCommand};
use crate::config;

/// Where the store is when neither `--store` nor `trust.store` says.
const DEFAULT_STORE: &str = ".attesta/trust.json";

/// Exit code when the check asked for failed (unknown agent, declined).
const EXIT_FAILED: u8 = 1;

pub(crate) fn run(args: &TrustArgs) -> anyhow::Result<ExitCode> {
    let engine = open(args)?;
    match &args.command {
        TrustCommand::Show { agent, json } => show(&engine, agent, *json),
        TrustCommand::List { json } => list(&engine, *json),
        TrustCommand::Revoke { agent, yes } => {
            let question = format!(
                "Revoke all trust for agent '{agent}'? Its trust stays 0 until `attesta trust \
                 reset`."
            );
            if !confirmed(&question, *yes)? {
                return Ok(aborted());
            }
            let existed = engine.profile(agent).is_some();
            engine.revoke(agent)?;
            println!("Revoked trust for agent '{agent}' (trust is now 0.000).");
            if !existed {
                println!(
                    "The agent was not in the store yet; it stays revoked when it first acts."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TrustCommand::Reset { agent, yes } => {
            if engine.profile(agent).is_none() {
                return Ok(unknown(&engine, agent));
            }
            let question = format!(
                "Reset agent '{agent}'? This lifts any revocation and forgets its history."
            );
            if !confirmed(&question, *yes)? {
                return Ok(aborted());
            }
            engine.reset(agent)?;
            println!(
                "Reset agent '{agent}' (trust is now {:.3}).",
                engine.compute_trust(agent, None)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The engine over the store named by `--store`, else the policy's
/// `trust.store`, else `.attesta/trust.json`, with the policy's trust
/// settings. A store that does not exist is an error: a mistyped path must
/// not look like an empty store (or, for revoke, create one elsewhere).
fn open(args: &TrustArgs) -> anyhow::Result<TrustEngine> {
    let (policy, _) = config::load_policy(None)?;
    let mut settings = policy.trust.unwrap_or_else(TrustSettings::default);
    let store = args
        .store
        .clone()
        .or_else(|| settings.store_path.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE));
    if !store.is_file() {
        bail!(
            "trust store {} not found; pass --store PATH or set trust.store in attesta.yaml (the \
             store is created when an agent's first outcome is recorded)",
            store.display()
        );
    }
    settings.store_path = Some(store);
    Ok(TrustEngine::open(settings, Arc::new(SystemClock::new()))?)
}

fn show(engine: &TrustEngine, agent: &str, json: bool) -> anyhow::Result<ExitCode> {
    let Some(profile) = engine.profile(agent) else {
        return Ok(unknown(engine, agent));
    };
    let trust = engine.compute_trust(agent, None);
    let mut out = io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&profile_json(&profile, trust, true))?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "Agent          : {}", profile.agent_id)?;
    writeln!(out, "Trust now      : {trust:.3}")?;
    writeln!(out, "Status         : {}", status(&profile))?;
    writeln!(out, "Stored score   : {:.3}", profile.overall_score)?;
    writeln!(out, "Incidents      : {}", profile.incidents)?;
    writeln!(out, "History        : {} outcomes", profile.history.len())?;
    writeln!(out, "Created        : {}", when(Some(profile.created_at)))?;
    writeln!(out, "Last action    : {}", when(profile.last_action_at))?;
    if !profile.domain_scores.is_empty() {
        writeln!(out, "Domain scores  :")?;
        let mut domains: Vec<_> = profile.domain_scores.iter().collect();
        domains.sort_by(|a, b| a.0.cmp(b.0));
        for (domain, score) in domains {
            writeln!(out, "  {domain:<20} {score:.3}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(engine: &TrustEngine, json: bool) -> anyhow::Result<ExitCode> {
    let mut profiles = engine.profiles();
    profiles.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
    let mut out = io::stdout().lock();
    if json {
        let items: Vec<Value> = profiles
            .iter()
            .map(|p| profile_json(p, engine.compute_trust(&p.agent_id, None), false))
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if profiles.is_empty() {
        writeln!(out, "No agents in the trust store.")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<30} {:>6} {:>9}  {:<16}  STATUS",
        "AGENT", "TRUST", "INCIDENTS", "LAST ACTION"
    )?;
    for p in &profiles {
        writeln!(
            out,
            "{:<30} {:>6.3} {:>9}  {:<16}  {}",
            p.agent_id,
            engine.compute_trust(&p.agent_id, None),
            p.incidents,
            when(p.last_action_at),
            status(p)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn profile_json(p: &TrustProfile, trust: f64, with_domains: bool) -> Value {
    let iso = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let mut value = json!({
        "agent_id": p.agent_id,
        "trust": trust,
        "revoked": p.revoked_at.is_some(),
        "revoked_at": p.revoked_at.map(iso),
        "overall_score": p.overall_score,
        "incidents": p.incidents,
        "history_count": p.history.len(),
        "created_at": iso(p.created_at),
        "last_action_at": p.last_action_at.map(iso),
    });
    if with_domains && let Some(map) = value.as_object_mut() {
        map.insert("domain_scores".into(), json!(p.domain_scores));
    }
    value
}

fn status(p: &TrustProfile) -> String {
    match p.revoked_at {
        Some(t) => format!("revoked since {}", when(Some(t))),
        None => "active".to_owned(),
    }
}

fn when(t: Option<NaiveDateTime>) -> String {
    t.map_or_else(
        || "never".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}

fn unknown(engine: &TrustEngine, agent: &str) -> ExitCode {
    let store = engine
        .settings()
        .store_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    eprintln!(
        "attesta: error: no agent '{agent}' in trust store {store}; check the id (exact, \
         case-sensitive) with `attesta trust list`"
    );
    ExitCode::from(EXIT_FAILED)
}

fn aborted() -> ExitCode {
    eprintln!("Aborted; nothing changed.");
    ExitCode::from(EXIT_FAILED)
}

/// Asks `question` on the terminal unless `yes`. Without a terminal (and
/// without `yes`) it refuses: a destructive change never proceeds silently.
fn confirmed(question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        bail!("{question} There is no terminal to confirm on; pass --yes to proceed");
    }
    let mut err = io::stderr().lock();
    write!(err, "{question} [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
