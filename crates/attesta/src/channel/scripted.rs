//! A channel that answers from a script: for tests and demos, never for
//! real approvals.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::{Channel, ChannelError, Principal, Prompt, Response};

/// One scripted reply: answers, who gives them, and how long they "looked".
#[derive(Debug, Clone)]
pub struct ScriptedAnswer {
    reply: Result<Response, ChannelError>,
    /// Real time to wait before replying (to exercise timeouts).
    delay: Duration,
}

impl ScriptedAnswer {
    /// Answers the prompt's questions with `answers`, as principal `scripted`,
    /// after a reported review time of 60 seconds.
    pub fn answers<I, S>(answers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            reply: Ok(Response {
                answers: answers.into_iter().map(Into::into).collect(),
                principal: Principal::new("scripted", "scripted"),
                review_time: Duration::from_mins(1),
            }),
            delay: Duration::ZERO,
        }
    }

    /// Fails with `error` instead of answering.
    pub fn error(error: ChannelError) -> Self {
        Self {
            reply: Err(error),
            delay: Duration::ZERO,
        }
    }

    /// Sets who answers.
    #[must_use]
    pub fn by(mut self, principal_id: &str) -> Self {
        if let Ok(response) = &mut self.reply {
            response.principal = Principal::new(principal_id, "scripted");
        }
        self
    }

    /// Sets the reported review time.
    #[must_use]
    pub fn reviewed_for(mut self, review_time: Duration) -> Self {
        if let Ok(response) = &mut self.reply {
            response.review_time = review_time;
        }
        self
    }

    /// Waits this long (tokio time) before replying.
    #[must_use]
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Replies from a queue of [`ScriptedAnswer`]s and records every prompt.
/// When the queue is empty it reports itself unavailable.
#[derive(Debug, Default)]
pub struct ScriptedChannel {
    replies: Mutex<VecDeque<ScriptedAnswer>>,
    prompts: Mutex<Vec<Prompt>>,
}

impl ScriptedChannel {
    /// A channel that will give these replies, in order.
    pub fn new(replies: impl IntoIterator<Item = ScriptedAnswer>) -> Self {
        Self {
            replies: Mutex::new(replies.into_iter().collect()),
            prompts: Mutex::default(),
        }
    }

    /// The prompts shown so far.
    pub fn prompts(&self) -> Vec<Prompt> {
        self.prompts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Channel for ScriptedChannel {
    fn name(&self) -> &'static str {
        "scripted"
    }

    async fn ask(&self, prompt: &Prompt) -> Result<Response, ChannelError> {
        self.prompts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(prompt.clone());
        let next = self
            .replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        let Some(answer) = next else {
            return Err(ChannelError::Unavailable(
                "the scripted channel has no replies left".to_owned(),
            ));
        };
        if !answer.delay.is_zero() {
            tokio::time::sleep(answer.delay).await;
        }
        answer.reply
    }
}
