//! What a command module needs: the handler context [`Ctx`], the [`Handler`] type and the
//! table entry [`Command`].
//!
//! A command module exports its entries as `pub(crate) const COMMANDS: &[Command]`, each next to
//! its [`Handler`]; `registry.rs` puts every module's table into the one command table. A handler:
//!
//! ```text
//! fn cmd_foo(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
//!     let verbose = args.flag("--verbose")?;
//!     let count: u32 = args.option("--count")?.unwrap_or(1);
//!     let target = args.word("<target>")?; // or args.next::<T>() to parse
//!     args.finish()?; // unknown options / extra arguments -> usage error, before acting
//!     writeln!(ctx, "...");
//!     Ok(0)
//! }
//! ```
//!
//! A handler returns its exit status, or a [`CmdError`] which the dispatcher prints as
//! `error: <name>: <msg>` (status 1 for runtime errors, 2 for usage errors). Output goes through
//! `writeln!(ctx, ...)`, which turns `\n` into `\r\n`.

use core::fmt;

use crate::args::{Args, CmdError};
use crate::out::{Key, Out};
use crate::system::{Exit, System};

/// The status of a command stopped by Ctrl-C (128 + SIGINT, as in POSIX shells).
pub(crate) const INTERRUPTED: u8 = 130;

/// A command handler: gets the context and the arguments, returns the exit status.
pub(crate) type Handler = fn(&mut Ctx<'_>, &mut Args<'_>) -> Result<u8, CmdError>;

/// One entry of the command table.
#[derive(Clone, Copy)]
pub(crate) struct Command {
    /// What the user types.
    pub name: &'static str,
    /// Synopsis, e.g. `sleep <duration>`.
    pub usage: &'static str,
    /// One line for the `help` overview.
    pub help: &'static str,
    /// Details for `help <name>`; may be empty. Lines separated by `\n`.
    pub long_help: &'static str,
    /// The implementation.
    pub run: Handler,
}

/// What a handler can reach.
pub(crate) struct Ctx<'a> {
    /// Where the output goes: write with `write!`/`writeln!` on the `Ctx` itself.
    pub out: Out<'a>,
    /// The kernel.
    pub sys: &'a mut dyn System,
    /// `$?` before this command.
    pub last_status: u8,
    /// Terminal (interactive) mode.
    pub interactive: bool,
    /// `set -e`; written back after the command.
    pub errexit: bool,
    /// Set to end the shell after this command.
    pub exit: Option<Exit>,
    /// The language's variables, functions and loop state (`break`, `unset`, `set x=1`).
    pub lang: &'a mut crate::script::Lang,
}

impl Ctx<'_> {
    /// Target of `write!`/`writeln!`: infallible, `\n` becomes `\r\n`.
    pub(crate) fn write_fmt(&mut self, args: fmt::Arguments<'_>) {
        let _ = fmt::Write::write_fmt(&mut self.out, args);
    }

    /// A byte typed meanwhile, if one is there now (never blocks; [`Key::Closed`] once the input
    /// ended); the byte is the command's. In non-terminal mode the input is the script's next
    /// lines: poll only to be stopped.
    pub(crate) fn key(&mut self) -> Option<Key> {
        self.out.sink.key()
    }

    /// Whether a Ctrl-C came (typed ahead or while the command runs): if so it is taken, with
    /// what was typed before it, `^C` is printed, and the command should stop and return
    /// [`INTERRUPTED`] (130).
    pub(crate) fn interrupted(&mut self) -> bool {
        if !self.out.sink.take_interrupt() {
            return false;
        }
        self.out.sink.put(b"^C\r\n");
        true
    }

    /// The terminal's rows, in terminal mode.
    pub(crate) fn rows(&self) -> Option<u16> {
        self.out.sink.rows()
    }

    /// Sends what was written so far (a command that waits between its outputs).
    pub(crate) fn flush(&mut self) {
        self.out.sink.flush();
    }
}
