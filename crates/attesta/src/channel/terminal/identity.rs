//! Who is answering at the terminal.
//!
//! A single approver is the OS user the process runs as: the terminal can
//! prove nothing finer. For multi-party prompts the person picks their id
//! from the configured approvers (never a free-text name), is held to the
//! OS account configured for them, and proves themselves with a one-time
//! code when one is configured. Without a code, several approvers at one
//! keyboard are only as distinct as their word, and the principal says so.

use crate::channel::{ApproverSlot, ChannelError, CodeVerifier, Principal, sanitize_for_display};
use crate::policy::ApproverConfig;

use super::console::{Console, Halt};

/// Recorded with approvals proven only by the OS user in a multi-party
/// prompt.
pub(super) const WEAK_IDENTITY: &str =
    "several approvers at one keyboard, proven only by the OS user";

/// Wrong one-time codes allowed before the approval is refused.
const MAX_CODE_TRIES: u32 = 3;

/// Invalid approver choices allowed before giving up.
const MAX_PICKS: u32 = 5;

/// The account this process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OsUser {
    /// Numeric user id (the real proof).
    pub(super) uid: u32,
    /// The account name, or `uid:N` when the account database has none.
    pub(super) name: String,
}

impl OsUser {
    /// The user this process runs as.
    pub(super) fn current() -> Self {
        let uid = rustix::process::getuid().as_raw();
        let passwd = std::fs::read_to_string("/etc/passwd").ok();
        let env = [std::env::var("USER").ok(), std::env::var("LOGNAME").ok()];
        Self {
            uid,
            name: resolve_user_name(uid, &env, passwd.as_deref()),
        }
    }
}

/// The account name for `uid`. `$USER`/`$LOGNAME` are whatever the parent
/// process set, so a name from them counts only if `/etc/passwd` gives it
/// this uid (it picks between accounts that share a uid); otherwise the
/// first passwd entry for the uid, otherwise `uid:N`.
fn resolve_user_name(uid: u32, env_names: &[Option<String>], passwd: Option<&str>) -> String {
    let entries: Vec<(&str, u32)> = passwd.map(passwd_entries).unwrap_or_default();
    let owns = |name: &str| entries.iter().any(|&(n, u)| n == name && u == uid);
    if let Some(name) = env_names.iter().flatten().find(|n| owns(n)) {
        return name.clone();
    }
    entries
        .iter()
        .find(|&&(_, u)| u == uid)
        .map_or_else(|| format!("uid:{uid}"), |&(n, _)| n.to_owned())
}

/// `(name, uid)` of each well-formed `/etc/passwd` line.
fn passwd_entries(passwd: &str) -> Vec<(&str, u32)> {
    passwd
        .lines()
        .filter(|line| !line.starts_with(['#', '+', '-']))
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next().filter(|n| !n.is_empty())?;
            let uid = fields.nth(1)?.parse().ok()?;
            Some((name, uid))
        })
        .collect()
}

/// The principal for a prompt with no approver slot.
pub(super) fn os_principal(user: &OsUser) -> Principal {
    Principal::new(user.name.clone(), "os_user")
}

/// Refuses multi-party prompts when no approvers are configured, before
/// anything is shown.
pub(super) fn require_approvers(approvers: &[ApproverConfig]) -> Result<(), ChannelError> {
    if approvers.is_empty() {
        return Err(ChannelError::Unavailable(
            "multi-party approval at a terminal needs the approvers listed in attesta.yaml \
             (approvers:, each with an id and ideally a totp_secret); without them anyone \
             at the keyboard could claim to be anyone"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Establishes which configured approver answers `slot`.
pub(super) fn approver_principal(
    console: &mut Console<'_>,
    slot: &ApproverSlot,
    approvers: &[ApproverConfig],
    verifier: Option<&dyn CodeVerifier>,
    os_user: &OsUser,
) -> Result<Principal, Halt> {
    require_approvers(approvers).map_err(Halt::Refused)?;
    let eligible: Vec<&ApproverConfig> = approvers
        .iter()
        .filter(|a| !slot.excluded.contains(&a.id))
        .collect();
    if eligible.is_empty() {
        return Err(Halt::Refused(ChannelError::Unavailable(format!(
            "no configured approver is left for approver {} of {}: all have approved \
             already or may not approve this action",
            slot.index, slot.of
        ))));
    }
    let layout = console.layout();
    let mut intro = String::from("\n");
    intro.push_str(&layout.heading(&format!("Approver {} of {}", slot.index, slot.of)));
    intro.push_str(&layout.paragraph("Who is answering? Approvers who may answer:", 0));
    for (i, approver) in eligible.iter().enumerate() {
        intro.push_str("  ");
        intro.push_str(&(i + 1).to_string());
        intro.push_str(") ");
        intro.push_str(&layout.paragraph(&approver.id, 5));
    }
    let barred: Vec<&str> = approvers
        .iter()
        .filter(|a| slot.excluded.contains(&a.id))
        .map(|a| a.id.as_str())
        .collect();
    if !barred.is_empty() {
        intro.push_str(&layout.hint(&format!(
            "Not eligible here (already approved): {}",
            barred.join(", ")
        )));
    }
    intro.push_str(&layout.hint("Type the number or the id, then Enter."));
    console.say(&intro)?;

    let approver = pick(console, &eligible, slot, os_user, verifier)?;
    let needs_code = has_code(approver, verifier);
    if needs_code {
        let Some(verifier) = verifier else {
            // Never fall back to a weaker proof than the one configured.
            return Err(Halt::Refused(ChannelError::Unavailable(format!(
                "approver '{}' proves who they are with a one-time code, but this terminal \
                 channel has no code verifier configured",
                sanitize_for_display(&approver.id)
            ))));
        };
        prove_with_code(console, approver, verifier)?;
        let principal = Principal::new(approver.id.clone(), "totp");
        console.say(&layout.hint(&format!(
            "Answering as {} (one-time code accepted).",
            approver.id
        )))?;
        return Ok(principal);
    }
    console.say(&layout.warning(&format!(
        "'{}' is proven only by the OS account '{}', which is the same for everyone at \
         this keyboard. Approvals given this way are weak and are recorded as such; \
         configure a totp_secret for each approver so each one proves who they are.",
        approver.id, os_user.name
    )))?;
    Ok(Principal {
        id: approver.id.clone(),
        verified_by: "os_user".to_owned(),
        weakness: Some(WEAK_IDENTITY.to_owned()),
    })
}

/// Whether the approver proves who they are with a one-time code.
fn has_code(approver: &ApproverConfig, verifier: Option<&dyn CodeVerifier>) -> bool {
    approver.totp_secret.is_some() || verifier.is_some_and(|v| v.has_code(&approver.id))
}

/// The OS account that must be running this terminal for `approver` to
/// answer: their `os_user` if set. Without a one-time code the account is
/// the only proof, so it defaults to the approver's own id: otherwise anyone
/// at the keyboard could claim any code-less approver, and one person could
/// fill two multi-party slots by typing two names.
fn required_account<'a>(
    approver: &'a ApproverConfig,
    verifier: Option<&dyn CodeVerifier>,
) -> Option<&'a str> {
    match approver.os_user.as_deref() {
        Some(account) => Some(account),
        None if has_code(approver, verifier) => None,
        None => Some(&approver.id),
    }
}

/// Reads the operator's choice of approver until it is one they may be.
fn pick<'a>(
    console: &mut Console<'_>,
    eligible: &[&'a ApproverConfig],
    slot: &ApproverSlot,
    os_user: &OsUser,
    verifier: Option<&dyn CodeVerifier>,
) -> Result<&'a ApproverConfig, Halt> {
    let layout = console.layout();
    for _ in 0..MAX_PICKS {
        console.say(&super::render::input_marker(layout))?;
        let typed = console.read_line(true)?;
        let typed = typed.trim();
        let chosen = typed
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| eligible.get(i))
            .or_else(|| eligible.iter().find(|a| a.id == typed));
        let problem = match chosen {
            None if typed.is_empty() => continue,
            None if slot.excluded.iter().any(|id| id == typed) => {
                format!("'{typed}' cannot answer here: already approved, or not allowed to.")
            }
            None => format!("'{typed}' is not one of the approvers listed above."),
            Some(a) => match required_account(a, verifier) {
                Some(required) if required != os_user.name => format!(
                    "'{}' approves from the OS account '{required}', but this terminal \
                     runs as '{}'{}.",
                    a.id,
                    os_user.name,
                    if has_code(a, verifier) {
                        ""
                    } else {
                        " (without a one-time code, the OS account is their only proof)"
                    }
                ),
                _ => return Ok(a),
            },
        };
        console.say(&layout.warning(&problem))?;
    }
    Err(Halt::Refused(ChannelError::Failed(
        "no eligible approver was chosen".to_owned(),
    )))
}

/// Asks for a one-time code, without echo, until one is accepted.
fn prove_with_code(
    console: &mut Console<'_>,
    approver: &ApproverConfig,
    verifier: &dyn CodeVerifier,
) -> Result<(), Halt> {
    let layout = console.layout();
    let mut tries_left = MAX_CODE_TRIES;
    console.say(&layout.paragraph(
        &format!(
            "One-time code for {} from your authenticator (not shown as you type):",
            approver.id
        ),
        0,
    ))?;
    while tries_left > 0 {
        console.say(&super::render::input_marker(layout))?;
        let code = console.read_line(false)?;
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        tries_left -= 1;
        match verifier.verify(&approver.id, code) {
            Ok(true) => return Ok(()),
            Ok(false) if tries_left > 0 => {
                console.say(&layout.warning(&format!(
                    "That code was not accepted. {tries_left} {} left.",
                    if tries_left == 1 { "try" } else { "tries" }
                )))?;
            }
            Ok(false) => {}
            Err(why) => {
                let why = sanitize_for_display(&why);
                console.say(&layout.warning(&format!("The code could not be checked: {why}")))?;
                return Err(Halt::Refused(ChannelError::Failed(format!(
                    "the one-time code for approver '{}' could not be checked: {why}",
                    sanitize_for_display(&approver.id)
                ))));
            }
        }
    }
    console.say(&layout.warning(&format!(
        "{MAX_CODE_TRIES} codes were not accepted; this approval is refused."
    )))?;
    Err(Halt::Refused(ChannelError::Failed(format!(
        "approver '{}' did not prove who they are: {MAX_CODE_TRIES} one-time codes were not \
         accepted",
        sanitize_for_display(&approver.id)
    ))))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    use super::super::console::fake::FakeTerminal;
    use super::super::render::Layout;
    use super::*;
    use crate::policy::SecretSource;

    /// Accepts one fixed code per approver; remembers what it was asked.
    #[derive(Debug, Default)]
    struct FakeVerifier {
        codes: Vec<(&'static str, &'static str)>,
        broken: bool,
        asked: Mutex<Vec<String>>,
    }

    impl CodeVerifier for FakeVerifier {
        fn has_code(&self, id: &str) -> bool {
            self.codes.iter().any(|(a, _)| *a == id)
        }

        fn verify(&self, id: &str, code: &str) -> Result<bool, String> {
            self.asked.lock().unwrap().push(code.to_owned());
            if self.broken {
                return Err("secret file unreadable".to_owned());
            }
            Ok(self.codes.iter().any(|&(a, c)| a == id && c == code))
        }
    }

    fn approver(id: &str) -> ApproverConfig {
        ApproverConfig {
            id: id.to_owned(),
            totp_secret: None,
            os_user: None,
        }
    }

    fn me() -> OsUser {
        OsUser {
            uid: 1000,
            name: "ops".to_owned(),
        }
    }

    fn slot(excluded: &[&str]) -> ApproverSlot {
        ApproverSlot {
            index: 2,
            of: 2,
            excluded: excluded.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn run(
        typed: &[&str],
        approvers: &[ApproverConfig],
        excluded: &[&str],
        verifier: Option<&dyn CodeVerifier>,
    ) -> (Result<Principal, Halt>, String) {
        let mut term = FakeTerminal::typing(typed);
        let flag = AtomicBool::new(false);
        let mut console = Console::new(&mut term, &flag, Layout::new(Some(80), false));
        let got = approver_principal(&mut console, &slot(excluded), approvers, verifier, &me());
        // Wrapping may split any sentence; tests read the text unwrapped.
        let unwrapped = term.output.split_whitespace().collect::<Vec<_>>().join(" ");
        (got, unwrapped)
    }

    #[test]
    fn user_name_comes_from_passwd_not_from_the_environment() {
        let passwd = "root:x:0:0::/root:/bin/sh\n# comment\nops:x:1000:1000::/h:/bin/sh\n\
                      alias:x:1000:1000::/h:/bin/sh\nbroken line\n";
        let env = |u: &str| [Some(u.to_owned()), None];
        assert_eq!(
            resolve_user_name(1000, &env("alias"), Some(passwd)),
            "alias"
        );
        // $USER naming another account is ignored.
        assert_eq!(resolve_user_name(1000, &env("root"), Some(passwd)), "ops");
        assert_eq!(resolve_user_name(1000, &[None, None], Some(passwd)), "ops");
        assert_eq!(
            resolve_user_name(4242, &env("ops"), Some(passwd)),
            "uid:4242"
        );
        assert_eq!(resolve_user_name(0, &env("root"), None), "uid:0");
    }

    #[test]
    fn the_current_user_has_a_name() {
        let user = OsUser::current();
        assert!(!user.name.is_empty());
        assert_eq!(os_principal(&user).verified_by, "os_user");
    }

    #[test]
    fn no_configured_approvers_is_unavailable() {
        let (got, _) = run(&["me\r"], &[], &[], None);
        let Err(Halt::Refused(ChannelError::Unavailable(msg))) = got else {
            panic!("{got:?}")
        };
        assert!(msg.contains("approvers:"), "{msg}");
    }

    #[test]
    fn right_code_proves_the_approver() {
        let v = FakeVerifier {
            codes: vec![("bob", "654321")],
            ..FakeVerifier::default()
        };
        let (got, out) = run(&["bob\r", "654321\r"], &[approver("bob")], &[], Some(&v));
        let p = got.unwrap();
        assert_eq!((p.id.as_str(), p.verified_by.as_str()), ("bob", "totp"));
        assert_eq!(p.weakness, None);
        assert!(!out.contains("654321"), "the code must not be echoed");
        assert!(out.contains("Approver 2 of 2"));
    }

    #[test]
    fn wrong_codes_never_give_a_principal() {
        let v = FakeVerifier {
            codes: vec![("bob", "654321")],
            ..FakeVerifier::default()
        };
        let typed = ["1\r", "111111\r", "\r", "222222\r", "333333\r", "654321\r"];
        let (got, out) = run(&typed, &[approver("bob")], &[], Some(&v));
        assert!(
            matches!(got, Err(Halt::Refused(ChannelError::Failed(_)))),
            "{got:?}"
        );
        assert_eq!(v.asked.lock().unwrap().len(), 3, "empty lines do not count");
        assert!(out.contains("2 tries left") && out.contains("1 try left"));
    }

    #[test]
    fn a_verifier_error_refuses() {
        let v = FakeVerifier {
            codes: vec![("bob", "654321")],
            broken: true,
            ..FakeVerifier::default()
        };
        let (got, out) = run(&["bob\r", "654321\r"], &[approver("bob")], &[], Some(&v));
        assert!(matches!(got, Err(Halt::Refused(ChannelError::Failed(_)))));
        assert!(out.contains("secret file unreadable"));
    }

    #[test]
    fn a_configured_secret_without_a_verifier_is_not_downgraded() {
        let mut bob = approver("bob");
        bob.totp_secret = Some(SecretSource::Env("BOB_TOTP".to_owned()));
        let (got, _) = run(&["bob\r"], &[bob], &[], None);
        assert!(matches!(
            got,
            Err(Halt::Refused(ChannelError::Unavailable(_)))
        ));
    }

    #[test]
    fn excluded_and_unknown_approvers_cannot_be_chosen() {
        let mut bob = approver("bob");
        bob.os_user = Some("ops".to_owned());
        let approvers = [approver("alice"), bob];
        let (got, out) = run(
            &["alice\r", "mallory\r", "2\r", "1\r"],
            &approvers,
            &["alice"],
            None,
        );
        let p = got.unwrap();
        assert_eq!(p.id, "bob", "1 is bob: alice is not listed");
        assert!(out.contains("'alice' cannot answer here"));
        assert!(out.contains("'mallory' is not one of the approvers"));
        assert!(!out.contains("1) alice"));
        assert!(out.contains("Not eligible here (already approved): alice"));
    }

    #[test]
    fn everyone_excluded_is_unavailable() {
        let (got, _) = run(&["alice\r"], &[approver("alice")], &["alice"], None);
        assert!(matches!(
            got,
            Err(Halt::Refused(ChannelError::Unavailable(_)))
        ));
    }

    #[test]
    fn os_user_only_is_recorded_as_weak() {
        let mut carol = approver("carol");
        carol.os_user = Some("ops".to_owned());
        let (got, out) = run(&["carol\r"], &[carol], &[], None);
        let p = got.unwrap();
        assert_eq!(p.verified_by, "os_user");
        assert_eq!(p.weakness.as_deref(), Some(WEAK_IDENTITY));
        assert!(out.contains("Warning:") && out.contains("totp_secret"));
    }

    #[test]
    fn without_a_code_the_os_account_is_the_only_proof() {
        // Code-less approvers without os_user are proven by an OS account
        // named like them: the person running as 'ops' is neither alice nor
        // bob, so typing their names gets nowhere.
        let approvers = [approver("alice"), approver("bob")];
        let (got, out) = run(
            &["alice\r", "bob\r", "alice\r", "2\r", "1\r"],
            &approvers,
            &[],
            None,
        );
        assert!(
            matches!(got, Err(Halt::Refused(ChannelError::Failed(_)))),
            "{got:?}"
        );
        assert!(out.contains("the OS account is their only proof"), "{out}");
        // The approver named like the OS account may answer (weakly).
        let (got, _) = run(&["ops\r"], &[approver("ops")], &[], None);
        assert_eq!(got.unwrap().weakness.as_deref(), Some(WEAK_IDENTITY));
    }

    #[test]
    fn the_configured_os_account_must_match() {
        let mut dave = approver("dave");
        dave.os_user = Some("dave".to_owned());
        let (got, out) = run(&["dave\r"; 5], &[dave], &[], None);
        assert!(matches!(got, Err(Halt::Refused(ChannelError::Failed(_)))));
        assert!(out.contains("runs as 'ops'"));
    }
}
