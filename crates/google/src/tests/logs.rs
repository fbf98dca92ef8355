//! What the hub and the provider log during one test, in a binary where tests run in
//! parallel: one global subscriber writes each event, as a JSON line, into the buffer of
//! the capture active on the emitting thread (`#[tokio::test]` runs a test, its hub and
//! its mock on one thread); threads without a capture are not listened to.

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::DynFilterFn;
use tracing_subscriber::fmt::{self, MakeWriter};
use tracing_subscriber::layer::SubscriberExt as _;

type Buffer = Arc<Mutex<Vec<u8>>>;

thread_local! {
    static ACTIVE: RefCell<Option<Buffer>> = const { RefCell::new(None) };
}

/// The log of this thread from [`capture`] until dropped.
pub(super) struct Capture(Buffer);

impl Capture {
    /// Everything logged so far.
    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        ACTIVE.with(|active| active.borrow_mut().take());
    }
}

/// Captures every event of this thread, at every level.
pub(super) fn capture() -> Capture {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let layer = fmt::layer()
            .json()
            .with_writer(Writers)
            .with_filter(DynFilterFn::new(|_, _| {
                ACTIVE.with(|active| active.borrow().is_some())
            }));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .unwrap();
    });
    let buffer = Buffer::default();
    ACTIVE.with(|active| *active.borrow_mut() = Some(buffer.clone()));
    Capture(buffer)
}

struct Writers;

impl<'a> MakeWriter<'a> for Writers {
    type Writer = ThreadBuffer;

    fn make_writer(&'a self) -> ThreadBuffer {
        ThreadBuffer(ACTIVE.with(|active| active.borrow().clone()))
    }
}

struct ThreadBuffer(Option<Buffer>);

impl Write for ThreadBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(buffer) = &self.0 {
            buffer.lock().unwrap().extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
