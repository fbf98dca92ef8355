//! Capturing what the hub logs during one test, in a test binary where many tests run at
//! once.
//!
//! A per-test subscriber (`tracing::subscriber::set_default`) is not enough there: tracing
//! caches per call site whether anyone listens, and a call site first reached by another
//! test while no capture was active can stay silent for the capturing one. So one global
//! subscriber, installed by the first capture, listens to every call site at trace level
//! and writes JSON lines into the buffer of the capture active on the emitting thread;
//! events on threads without one are dropped before they are formatted. `#[tokio::test]`
//! runs the test, its hubs and its providers on one thread, so a capture sees all of them.

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::filter::DynFilterFn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{Layer as _, fmt};

type Buffer = Arc<Mutex<Vec<u8>>>;

thread_local! {
    static ACTIVE: RefCell<Option<Buffer>> = const { RefCell::new(None) };
}

/// The log of one test, from [`capture`] until it is dropped.
#[derive(Debug)]
pub struct Capture {
    buffer: Buffer,
}

impl Capture {
    /// Everything logged so far, as JSON lines.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        ACTIVE.with(|active| active.borrow_mut().take());
    }
}

/// Starts capturing everything logged on this thread, at trace level, as JSON lines.
pub fn capture() -> Capture {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let layer = fmt::layer()
            .json()
            .with_writer(ThreadWriter)
            .with_filter(DynFilterFn::new(|_, _| {
                ACTIVE.with(|active| active.borrow().is_some())
            }));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in a test binary that captures logs");
    });
    let buffer = Buffer::default();
    ACTIVE.with(|active| *active.borrow_mut() = Some(buffer.clone()));
    Capture { buffer }
}

/// Writes into the buffer of the capture active on the calling thread.
struct ThreadWriter;

impl<'a> MakeWriter<'a> for ThreadWriter {
    type Writer = ThreadBuffer;

    fn make_writer(&'a self) -> ThreadBuffer {
        ThreadBuffer(ACTIVE.with(|active| active.borrow().clone()))
    }
}

/// One event's writer: the active buffer, or nowhere.
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
