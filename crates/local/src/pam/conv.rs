//! What hubauth answers when a PAM module asks something: the conversation's logic,
//! without any FFI so it can be tested with fake conversations.

use std::collections::VecDeque;

use zeroize::Zeroizing;

/// A message style of the PAM conversation (Linux-PAM's `PAM_PROMPT_ECHO_OFF`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A prompt whose answer is not shown (a password, a one-time code).
    EchoOff,
    /// A prompt whose answer is shown (some OTP modules use this).
    EchoOn,
    /// An error message for the user; no answer.
    ErrorMsg,
    /// An informational message for the user; no answer.
    TextInfo,
    /// Anything else (radio or binary prompts); hubauth cannot answer those.
    Other(i32),
}

impl Style {
    /// The style of a Linux-PAM `msg_style` value.
    pub fn from_raw(style: i32) -> Style {
        match style {
            1 => Style::EchoOff,
            2 => Style::EchoOn,
            3 => Style::ErrorMsg,
            4 => Style::TextInfo,
            other => Style::Other(other),
        }
    }
}

/// The answer to one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Answer with these bytes (wiped from memory when dropped).
    Secret(Zeroizing<Vec<u8>>),
    /// No answer is expected (informational messages).
    Nothing,
    /// The question cannot be answered: the conversation fails (`PAM_CONV_ERR`), and so
    /// does the PAM call that asked.
    Fail,
}

/// The answers of one login attempt: the password for the first prompt, the OTP (when
/// the form had one) for the second, and failure for any further prompt. Messages for
/// the user are kept for the log.
#[derive(Debug, Default)]
pub struct Answers {
    secrets: VecDeque<Zeroizing<Vec<u8>>>,
    prompts: usize,
    notices: Vec<String>,
}

/// The most notices kept per attempt (a misbehaving module cannot grow memory).
const MAX_NOTICES: usize = 16;

impl Answers {
    /// Answers for a login: the password, then the OTP if any.
    pub fn new(secrets: Vec<Zeroizing<Vec<u8>>>) -> Self {
        Answers {
            secrets: secrets.into(),
            prompts: 0,
            notices: Vec::new(),
        }
    }

    /// Answers for calls that should not prompt (sessions): every prompt fails.
    pub fn none() -> Self {
        Answers::default()
    }

    /// The answer to one message of style `style` with text `text`.
    pub fn answer(&mut self, style: Style, text: &[u8]) -> Reply {
        match style {
            Style::EchoOff | Style::EchoOn => {
                self.prompts += 1;
                match self.secrets.pop_front() {
                    Some(secret) => Reply::Secret(secret),
                    None => {
                        self.note(format!(
                            "PAM asked {:?} but hubauth has no answer left (prompt {})",
                            String::from_utf8_lossy(text),
                            self.prompts
                        ));
                        Reply::Fail
                    }
                }
            }
            Style::ErrorMsg | Style::TextInfo => {
                self.note(String::from_utf8_lossy(text).into_owned());
                Reply::Nothing
            }
            Style::Other(raw) => {
                self.note(format!("PAM sent a message of unsupported style {raw}"));
                Reply::Fail
            }
        }
    }

    /// How many prompts were asked.
    pub fn prompts(&self) -> usize {
        self.prompts
    }

    /// Messages PAM sent for the user (never the answers).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    fn note(&mut self, notice: String) {
        if self.notices.len() < MAX_NOTICES {
            self.notices.push(notice);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(text.as_bytes().to_vec())
    }

    /// A fake conversation as a two-factor stack runs it: a password prompt, an info
    /// message, a code prompt.
    #[test]
    fn second_prompt_gets_the_otp() {
        let mut answers = Answers::new(vec![secret("hunter2"), secret("123456")]);
        assert_eq!(
            answers.answer(Style::EchoOff, b"Password: "),
            Reply::Secret(secret("hunter2"))
        );
        assert_eq!(
            answers.answer(Style::TextInfo, b"Check your phone"),
            Reply::Nothing
        );
        assert_eq!(
            answers.answer(Style::EchoOff, b"Verification code: "),
            Reply::Secret(secret("123456"))
        );
        assert_eq!(answers.prompts(), 2);
        assert_eq!(answers.notices(), ["Check your phone"]);
    }

    #[test]
    fn echo_on_prompt_is_answered_too() {
        let mut answers = Answers::new(vec![secret("pw"), secret("654321")]);
        assert_eq!(
            answers.answer(Style::EchoOff, b"Password: "),
            Reply::Secret(secret("pw"))
        );
        assert_eq!(
            answers.answer(Style::EchoOn, b"Code: "),
            Reply::Secret(secret("654321"))
        );
    }

    #[test]
    fn missing_otp_fails_the_conversation() {
        let mut answers = Answers::new(vec![secret("pw")]);
        assert_eq!(
            answers.answer(Style::EchoOff, b"Password: "),
            Reply::Secret(secret("pw"))
        );
        assert_eq!(
            answers.answer(Style::EchoOff, b"Verification code: "),
            Reply::Fail
        );
        assert!(answers.notices()[0].contains("Verification code"));
        assert!(!answers.notices()[0].contains("pw\""));
    }

    #[test]
    fn sessions_never_answer_prompts() {
        let mut answers = Answers::none();
        assert_eq!(answers.answer(Style::EchoOff, b"Password: "), Reply::Fail);
        assert_eq!(answers.answer(Style::Other(7), b""), Reply::Fail);
    }

    #[test]
    fn notices_are_bounded() {
        let mut answers = Answers::none();
        for _ in 0..100 {
            answers.answer(Style::TextInfo, b"hello");
        }
        assert_eq!(answers.notices().len(), MAX_NOTICES);
    }
}
