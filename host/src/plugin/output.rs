//! Where a plugin's words go: stdout, stderr and the `logging` import become host log
//! events tagged with the plugin and the check, within a per-call byte budget.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::bindings::kube_shields::plugin::logging::Level;

/// Bytes of each stream (and of log messages) one call may write to the host log.
const MAX_BYTES_PER_CALL: usize = 64 * 1024;
/// A line longer than this is logged in pieces.
const MAX_LINE_BYTES: usize = 4096;
/// How Rust's standard panic handler ends its message.
const RUST_BACKTRACE_HINT: &str = "note: run with `RUST_BACKTRACE=1`";

/// Lines of stderr kept to explain a trap (a Rust panic prints its message there).
const STDERR_TAIL_LINES: usize = 8;
/// How many bytes `check-write` grants at once.
const WRITE_PERMIT: usize = 64 * 1024;

/// Which plugin and check a call belongs to, for every log event it causes.
#[derive(Debug, Clone)]
pub(crate) struct CallTags {
    pub(crate) plugin: Arc<str>,
    pub(crate) check: Arc<str>,
}

/// Where a piece of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Stdout,
    Stderr,
    Log(Level),
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Stdout => "stdout",
            Source::Stderr => "stderr",
            Source::Log(_) => "log",
        }
    }
}

/// The output of one call, shared by the store's stdout and stderr pipes and its `logging` host.
#[derive(Debug)]
pub(crate) struct CallOutput {
    tags: CallTags,
    stdout: Mutex<LineBuffer>,
    stderr: Mutex<LineBuffer>,
    log: Mutex<LineBuffer>,
}

/// Collects bytes into lines and logs each complete line, until the budget is spent.
#[derive(Debug, Default)]
struct LineBuffer {
    partial: Vec<u8>,
    written: usize,
    truncated: bool,
    tail: VecDeque<String>,
}

impl CallOutput {
    pub(crate) fn new(tags: CallTags) -> Arc<Self> {
        Arc::new(CallOutput {
            tags,
            stdout: Mutex::default(),
            stderr: Mutex::default(),
            log: Mutex::default(),
        })
    }

    /// A pipe for the WASI context's stdout or stderr.
    pub(crate) fn pipe(self: &Arc<Self>, source: Source) -> OutputPipe {
        OutputPipe {
            output: Arc::clone(self),
            source,
        }
    }

    /// One message of the `logging` import.
    pub(crate) fn log(&self, level: Level, message: &str) {
        let mut buffer = lock(&self.log);
        if buffer.spend(message.len()) {
            emit(&self.tags, Source::Log(level), message);
        } else {
            self.note_truncated(&mut buffer, Source::Log(level));
        }
    }

    fn write(&self, source: Source, bytes: &[u8]) {
        let mut buffer = lock(self.buffer(source));
        let fits = bytes
            .len()
            .min(MAX_BYTES_PER_CALL.saturating_sub(buffer.written));
        buffer.written += fits;
        buffer.partial.extend_from_slice(&bytes[..fits]);
        while let Some(end) = buffer.next_line_end() {
            let line: Vec<u8> = buffer.partial.drain(..end).collect();
            self.emit_line(&mut buffer, source, &line);
        }
        if fits < bytes.len() {
            self.note_truncated(&mut buffer, source);
        }
    }

    /// Logs what is left of unfinished lines; called once the call is over.
    pub(crate) fn finish(&self) {
        for source in [Source::Stdout, Source::Stderr] {
            let mut buffer = lock(self.buffer(source));
            let rest = std::mem::take(&mut buffer.partial);
            if !rest.is_empty() {
                self.emit_line(&mut buffer, source, &rest);
            }
        }
    }

    /// The last lines the plugin wrote to stderr, joined with ` | `, if any.
    pub(crate) fn stderr_tail(&self) -> Option<String> {
        let buffer = lock(&self.stderr);
        let mut lines: Vec<&str> = buffer.tail.iter().map(String::as_str).collect();
        let partial = String::from_utf8_lossy(&buffer.partial);
        if !partial.trim().is_empty() {
            lines.push(partial.trim());
        }
        (!lines.is_empty()).then(|| lines.join(" | "))
    }

    fn buffer(&self, source: Source) -> &Mutex<LineBuffer> {
        match source {
            Source::Stdout => &self.stdout,
            Source::Stderr => &self.stderr,
            Source::Log(_) => &self.log,
        }
    }

    fn emit_line(&self, buffer: &mut LineBuffer, source: Source, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\n', '\r']);
        // Empty lines say nothing; Rust's panic hint names a variable the sandbox's empty
        // environment cannot take.
        if text.trim().is_empty() || text.starts_with(RUST_BACKTRACE_HINT) {
            return;
        }
        emit(&self.tags, source, text);
        if source == Source::Stderr && !text.trim().is_empty() {
            if buffer.tail.len() == STDERR_TAIL_LINES {
                buffer.tail.pop_front();
            }
            buffer.tail.push_back(text.trim().to_owned());
        }
    }

    fn note_truncated(&self, buffer: &mut LineBuffer, source: Source) {
        if !std::mem::replace(&mut buffer.truncated, true) {
            tracing::warn!(
                plugin = %self.tags.plugin,
                check = %self.tags.check,
                stream = source.name(),
                "plugin output past {MAX_BYTES_PER_CALL} bytes in one call is dropped"
            );
        }
    }
}

impl LineBuffer {
    /// Counts `len` bytes against the budget; false when they do not fit.
    fn spend(&mut self, len: usize) -> bool {
        if self.written + len > MAX_BYTES_PER_CALL {
            return false;
        }
        self.written += len;
        true
    }

    /// Where the next line to log ends: after a newline, or at the long-line limit.
    fn next_line_end(&self) -> Option<usize> {
        match self.partial.iter().position(|&b| b == b'\n') {
            Some(newline) => Some((newline + 1).min(MAX_LINE_BYTES)),
            None => (self.partial.len() >= MAX_LINE_BYTES).then_some(MAX_LINE_BYTES),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while logging leaves nothing half-updated that matters: keep going.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One host log event; stdout is `info`, stderr `warn`, the log import keeps its level.
fn emit(tags: &CallTags, source: Source, message: &str) {
    let (plugin, check, stream) = (&*tags.plugin, &*tags.check, source.name());
    match source {
        Source::Log(Level::Debug) => tracing::debug!(plugin, check, stream, "{message}"),
        Source::Stdout | Source::Log(Level::Info) => {
            tracing::info!(plugin, check, stream, "{message}")
        }
        Source::Stderr | Source::Log(Level::Warn) => {
            tracing::warn!(plugin, check, stream, "{message}")
        }
        Source::Log(Level::Error) => tracing::error!(plugin, check, stream, "{message}"),
    }
}

/// The stdout or stderr of one call's WASI context.
#[derive(Debug, Clone)]
pub(crate) struct OutputPipe {
    output: Arc<CallOutput>,
    source: Source,
}

impl IsTerminal for OutputPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for OutputPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for OutputPipe {
    async fn ready(&mut self) {}
}

impl OutputStream for OutputPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.output.write(self.source, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Past the budget bytes are accepted and dropped: a chatty plugin still finishes.
        Ok(WRITE_PERMIT)
    }
}

impl AsyncWrite for OutputPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.output.write(self.source, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fmt::Debug;

    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};

    use super::*;

    /// Every event as `LEVEL plugin/check stream: message`.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    #[derive(Default)]
    struct Fields(BTreeMap<String, String>);

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
        fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
        fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            let get = |name: &str| fields.0.get(name).cloned().unwrap_or_default();
            self.0.lock().unwrap().push(format!(
                "{} {}/{} {}: {}",
                event.metadata().level(),
                get("plugin"),
                get("check"),
                get("stream"),
                get("message"),
            ));
        }
    }

    fn record(run: impl FnOnce(&Arc<CallOutput>)) -> Vec<String> {
        let recorder = Recorder::default();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        let output = CallOutput::new(CallTags {
            plugin: "web".into(),
            check: "version".into(),
        });
        tracing::subscriber::with_default(subscriber, || {
            run(&output);
            output.finish();
        });
        recorder.0.lock().unwrap().clone()
    }

    #[test]
    fn output_becomes_one_tagged_event_per_line() {
        let events = record(|output| {
            let mut stdout = output.pipe(Source::Stdout);
            stdout.write(Bytes::from_static(b"hello\nwor")).unwrap();
            stdout.write(Bytes::from_static(b"ld\nno newline")).unwrap();
            output
                .pipe(Source::Stderr)
                .write(Bytes::from_static(b"oops\r\n"))
                .unwrap();
            output.log(Level::Error, "from the log import");
        });
        assert_eq!(
            events,
            [
                "INFO web/version stdout: hello",
                "INFO web/version stdout: world",
                "WARN web/version stderr: oops",
                "ERROR web/version log: from the log import",
                "INFO web/version stdout: no newline",
            ]
        );
    }

    #[test]
    fn output_past_the_budget_is_dropped_with_one_warning() {
        let line = format!("{}\n", "x".repeat(1023));
        let events = record(|output| {
            let mut stdout = output.pipe(Source::Stdout);
            for _ in 0..(MAX_BYTES_PER_CALL / line.len() + 10) {
                stdout.write(Bytes::from(line.clone())).unwrap();
            }
        });
        assert_eq!(events.len(), MAX_BYTES_PER_CALL / line.len() + 1);
        assert_eq!(
            events.last().unwrap(),
            "WARN web/version stdout: plugin output past 65536 bytes in one call is dropped"
        );
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        let output = CallOutput::new(CallTags {
            plugin: "web".into(),
            check: "version".into(),
        });
        let mut stderr = output.pipe(Source::Stderr);
        for n in 0..10 {
            stderr.write(Bytes::from(format!("line {n}\n"))).unwrap();
        }
        stderr.write(Bytes::from_static(b"unfinished")).unwrap();
        assert_eq!(
            output.stderr_tail().as_deref(),
            Some(
                "line 2 | line 3 | line 4 | line 5 | line 6 | line 7 | line 8 | line 9 | unfinished"
            )
        );
    }
}
