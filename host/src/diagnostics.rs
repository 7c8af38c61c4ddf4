//! The host's own diagnostics, through [`tracing`]: what it decides while it works (how
//! each component was loaded and how long that took, each stage's start and end, each
//! outgoing request a stage makes and which credential rules added a header to it), as
//! opposed to the run's report ([`crate::report`]), which is the product.
//!
//! The filter is `AIRLOCK_LOG`, in `tracing-subscriber`'s `EnvFilter` syntax (`debug`,
//! `airlock::runtime=trace`, `warn,airlock::pipeline=debug`); unset, it is `warn,airlock=info`:
//! warnings and compile progress only. Events go to stderr, one line each, as
//! `warning: …` / `error: …`, info as its bare message, and debug and trace as
//! `debug airlock::runtime: message field=value …`.
//!
//! What an event may carry: names and values the host or the manifest chose (component
//! references, stage ids, origins, secret *names*, sizes, times). Never a secret's value,
//! a request's path or query, or other text a stage controls: a stage is hostile
//! (DESIGN.md), and its text reaches the terminal only through [`crate::encode`].

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The environment variable that holds the filter.
pub const FILTER_ENV: &str = "AIRLOCK_LOG";
/// The filter when [`FILTER_ENV`] is unset or empty.
pub const DEFAULT_FILTER: &str = "warn,airlock=info";

/// Installs the stderr subscriber with the filter from [`FILTER_ENV`] for this process
/// (the `airlock` binary calls it first). A filter that does not parse is reported on
/// stderr and the default is used. Calling it again does nothing.
pub fn init() {
    let (filter, problem) = match std::env::var(FILTER_ENV) {
        Ok(v) if !v.trim().is_empty() => match EnvFilter::try_new(&v) {
            Ok(f) => (f, None),
            Err(e) => (
                EnvFilter::new(DEFAULT_FILTER),
                Some(format!(
                    "{FILTER_ENV}={v:?} is not a filter ({e}); using {DEFAULT_FILTER:?}"
                )),
            ),
        },
        _ => (EnvFilter::new(DEFAULT_FILTER), None),
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(Lines)
        .try_init()
        .is_ok();
    if let (true, Some(problem)) = (installed, problem) {
        tracing::warn!("{problem}");
    }
}

/// One line per event: `warning: …`, `error: …`, info bare, `debug target: …`.
struct Lines;

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        match *meta.level() {
            Level::ERROR => write!(w, "error: ")?,
            Level::WARN => write!(w, "warning: ")?,
            Level::INFO => {}
            Level::DEBUG => write!(w, "debug {}: ", meta.target())?,
            Level::TRACE => write!(w, "trace {}: ", meta.target())?,
        }
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}
