//! A challenge prompt as an MCP elicitation form, and the form's answer as
//! a challenge response.
//!
//! Form mode allows only a flat object of primitive fields, which fits the
//! built-in challenges: a confirmation is one boolean, a quiz one field per
//! question (an enum where the question offers options), a teach-back one
//! string. The correct answers are never in the form: a [`Prompt`] does not
//! carry them.

use std::fmt::Write as _;
use std::time::Duration;

use attesta::channel::{ChannelError, Principal, Prompt, QuestionKind, Response};
use serde_json::{Map, Value, json};

/// Options that make a choice a yes/no confirmation, shown as a checkbox.
const YES_NO: [&str; 2] = ["yes", "no"];

/// The `elicitation/create` params for `prompt`. `form_mode` adds
/// `"mode": "form"`, which clients of protocol 2025-11-25 and later expect
/// (older clients know only forms and do not read it).
pub(crate) fn form_params(prompt: &Prompt, form_mode: bool) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for question in &prompt.questions {
        properties.insert(question.id.clone(), field_schema(prompt, question));
        required.push(Value::String(question.id.clone()));
    }
    let mut params = Map::new();
    if form_mode {
        params.insert("mode".to_owned(), json!("form"));
    }
    params.insert("message".to_owned(), Value::String(message(prompt)));
    params.insert(
        "requestedSchema".to_owned(),
        json!({"type": "object", "properties": properties, "required": required}),
    );
    Value::Object(params)
}

fn is_yes_no(options: &[String]) -> bool {
    options.len() == YES_NO.len() && options.iter().zip(YES_NO).all(|(o, yn)| o == yn)
}

fn field_schema(prompt: &Prompt, question: &attesta::channel::Question) -> Value {
    match question.kind {
        QuestionKind::Choice if is_yes_no(&question.options) => json!({
            "type": "boolean",
            "title": question.text,
            "description": "Tick to approve; leave unticked to deny.",
            "default": false,
        }),
        QuestionKind::Choice => json!({
            "type": "string",
            "title": question.text,
            "enum": question.options,
        }),
        QuestionKind::FreeText => json!({
            "type": "string",
            "title": question.text,
            "minLength": 1,
        }),
        QuestionKind::Explanation => {
            let words = prompt.min_words.unwrap_or(1);
            json!({
                "type": "string",
                "title": question.text,
                "description": format!("In your own words, at least {words} words."),
                // A word is at least two characters with its space.
                "minLength": words.saturating_mul(2),
            })
        }
    }
}

/// The text above the form: what would run, how risky it is, and what the
/// human is asked to do. Everything in a prompt is already sanitised.
fn message(prompt: &Prompt) -> String {
    let action = &prompt.action;
    let mut text = format!(
        "Attesta: an AI agent wants to run a tool. Risk: {level} ({score:.2}).\n\n{call}\n",
        level = prompt.risk_level.as_str().to_uppercase(),
        score = prompt.risk_score,
        call = action.call,
    );
    if let Some(doc) = &action.doc {
        let _ = writeln!(text, "\nTool description: {doc}");
    }
    if !action.environment.is_empty() {
        let _ = writeln!(text, "Environment: {}", action.environment);
    }
    if let Some(agent) = &action.agent_id {
        let _ = writeln!(text, "Requested by: {agent}");
    }
    if !action.risk_factors.is_empty() {
        text.push_str("Why it is risky:\n");
        for factor in &action.risk_factors {
            let _ = writeln!(text, "  - {factor}");
        }
    }
    if !prompt.min_review.is_zero() {
        let _ = writeln!(
            text,
            "Take at least {} s to read this before answering.",
            prompt.min_review.as_secs_f64().ceil()
        );
    }
    text.push('\n');
    text.push_str(&prompt.instructions);
    text
}

/// The client's answer to the form, judged later by the challenge. Decline
/// and cancel deny; anything malformed fails the channel (and so denies).
pub(crate) fn response_from_result(
    prompt: &Prompt,
    result: &Value,
    principal: Principal,
    review_time: Duration,
) -> Result<Response, ChannelError> {
    let action = result.get("action").and_then(Value::as_str);
    match action {
        Some("accept") => {}
        Some("decline") => {
            return Err(ChannelError::Failed(
                "the human declined the approval form".to_owned(),
            ));
        }
        Some("cancel") => return Err(ChannelError::Cancelled),
        _ => {
            return Err(ChannelError::Failed(
                "the MCP client answered the approval form without a valid `action` \
                 (accept, decline or cancel)"
                    .to_owned(),
            ));
        }
    }
    let empty = Map::new();
    let content = match result.get("content") {
        Some(Value::Object(content)) => content,
        None | Some(Value::Null) => &empty,
        Some(_) => {
            return Err(ChannelError::Failed(
                "the MCP client's form answer has a `content` that is not an object".to_owned(),
            ));
        }
    };
    let answers = prompt
        .questions
        .iter()
        .map(|question| answer_text(content.get(&question.id)))
        .collect();
    Ok(Response {
        answers,
        principal,
        review_time,
    })
}

/// A form value as the text a challenge judges: a ticked box is "yes", an
/// unticked one "no", numbers as written, anything missing empty (wrong).
fn answer_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::Bool(true)) => "yes".to_owned(),
        Some(Value::Bool(false)) => "no".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use attesta::channel::{ActionSummary, Question};
    use attesta::{ChallengeType, RiskLevel};

    use super::*;

    fn prompt(questions: Vec<Question>) -> Prompt {
        Prompt {
            challenge_type: ChallengeType::Quiz,
            action: ActionSummary {
                function_name: "write_file".into(),
                call: "write_file(path='/srv/a/b.txt')".into(),
                doc: None,
                environment: "staging".into(),
                agent_id: Some("claude-code".into()),
                risk_factors: vec!["destructive: write".into()],
            },
            risk_level: RiskLevel::High,
            risk_score: 0.7,
            instructions: "Answer the questions.".into(),
            questions,
            min_words: Some(5),
            min_review: Duration::from_secs(3),
            approver: None,
        }
    }

    fn question(id: &str, kind: QuestionKind, options: &[&str]) -> Question {
        Question {
            id: id.into(),
            text: format!("{id}?"),
            kind,
            options: options.iter().map(|&o| o.to_owned()).collect(),
        }
    }

    #[test]
    fn questions_become_flat_primitive_fields_without_answers() {
        let p = prompt(vec![
            question("approve", QuestionKind::Choice, &["yes", "no"]),
            question("directory", QuestionKind::Choice, &["/srv/a", "/srv/b"]),
            question("name", QuestionKind::FreeText, &[]),
            question("explanation", QuestionKind::Explanation, &[]),
        ]);
        let params = form_params(&p, true);
        assert_eq!(params["mode"], "form");
        let schema = &params["requestedSchema"];
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["properties"]["approve"]["type"], "boolean");
        assert_eq!(
            schema["properties"]["directory"]["enum"],
            json!(["/srv/a", "/srv/b"])
        );
        assert_eq!(schema["properties"]["name"]["type"], "string");
        assert_eq!(schema["properties"]["explanation"]["minLength"], 10);
        assert_eq!(
            schema["required"],
            json!(["approve", "directory", "name", "explanation"])
        );
        for field in schema["properties"].as_object().unwrap().values() {
            let kind = field["type"].as_str().unwrap();
            assert!(["boolean", "string"].contains(&kind), "{field}");
        }
        let message = params["message"].as_str().unwrap();
        assert!(message.contains("write_file(path='/srv/a/b.txt')"));
        assert!(message.contains("HIGH"));
        assert!(message.contains("destructive: write"));
        assert!(form_params(&p, false).get("mode").is_none());
    }

    #[test]
    fn accepted_content_maps_to_answers_in_question_order() {
        let p = prompt(vec![
            question("approve", QuestionKind::Choice, &["yes", "no"]),
            question("name", QuestionKind::FreeText, &[]),
            question("number", QuestionKind::FreeText, &[]),
            question("missing", QuestionKind::FreeText, &[]),
        ]);
        let result = json!({"action": "accept", "content": {
            "number": 42, "name": "b.txt", "approve": true}});
        let who = Principal::new("u", "mcp_elicitation");
        let response = response_from_result(&p, &result, who, Duration::from_secs(4)).unwrap();
        assert_eq!(response.answers, ["yes", "b.txt", "42", ""]);
        assert_eq!(response.review_time, Duration::from_secs(4));
    }

    #[test]
    fn decline_cancel_and_malformed_answers_never_approve() {
        let p = prompt(vec![question(
            "approve",
            QuestionKind::Choice,
            &["yes", "no"],
        )]);
        let who = || Principal::new("u", "mcp_elicitation");
        let zero = Duration::ZERO;
        for bad in [
            json!({"action": "decline"}),
            json!({"action": "cancel"}),
            json!({"action": "ACCEPT", "content": {"approve": true}}),
            json!({"content": {"approve": true}}),
            json!({"action": "accept", "content": ["yes"]}),
        ] {
            assert!(
                response_from_result(&p, &bad, who(), zero).is_err(),
                "{bad}"
            );
        }
        let unticked = json!({"action": "accept", "content": {"approve": false}});
        let response = response_from_result(&p, &unticked, who(), zero).unwrap();
        assert_eq!(response.answers, ["no"]);
    }
}
