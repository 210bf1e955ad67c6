//! Command-line parsing shared by every binary: clap reads flags and environment variables;
//! what comes back is either the parsed value or an [`Exit`] saying what to print and which
//! exit code to use. A bad value is one line naming the variable (clap's first line names the
//! flag and its `value_name`, which is the environment variable), exit code 2; `--help` and
//! `--version` print their text and exit 0.

use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;

use clap::{Command, FromArgMatches};

/// Exit code of a bad command line or setting.
pub const USAGE_EXIT_CODE: u8 = 2;

/// Parsing ended without settings: print [`Exit::message`] and exit with [`Exit::code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// What to print: the help or version text (code 0), or one error line.
    pub message: String,
    /// 0 for `--help` / `--version`, [`USAGE_EXIT_CODE`] for a bad value.
    pub code: u8,
}

impl Exit {
    /// A setting that parsed but is not acceptable: `error: <problem>` on one line, exit code 2.
    /// `problem` must name the variable and must not quote a secret value.
    pub fn invalid(problem: impl fmt::Display) -> Self {
        let line = format!("error: {problem}");
        Self { message: line.lines().next().unwrap_or("error: invalid settings").to_owned(), code: USAGE_EXIT_CODE }
    }

    /// What a clap error means for the process: help and version text exit 0; anything else
    /// keeps clap's first line (the usage hint that follows would make it several) and exits 2.
    pub fn from_clap(error: &clap::Error) -> Self {
        let text = error.render().to_string();
        if error.use_stderr() {
            let line = text.lines().next().unwrap_or("error: invalid arguments").to_owned();
            Self { message: line, code: USAGE_EXIT_CODE }
        } else {
            Self { message: text, code: 0 }
        }
    }

    /// Prints the message (stdout for code 0, stderr otherwise) and returns the exit code.
    pub fn report(&self) -> ExitCode {
        if self.code == 0 {
            print!("{}", self.message);
        } else {
            eprintln!("{}", self.message);
        }
        ExitCode::from(self.code)
    }
}

/// Parses `args` (program name first) and the environment with `command` into `T`.
pub fn parse<T, I, A>(command: Command, args: I) -> Result<T, Exit>
where
    T: FromArgMatches,
    I: IntoIterator<Item = A>,
    A: Into<OsString> + Clone,
{
    command.try_get_matches_from(args).and_then(|m| T::from_arg_matches(&m)).map_err(|e| Exit::from_clap(&e))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// Test binary.
    #[derive(Debug, Parser)]
    #[command(name = "tool", version)]
    struct Cli {
        /// A port.
        #[arg(long, env = "TOOL_TEST_PORT", value_name = "TOOL_TEST_PORT", default_value_t = 80)]
        port: u16,
    }

    fn run(args: &[&str]) -> Result<Cli, Exit> {
        parse(Cli::command(), std::iter::once("tool").chain(args.iter().copied()))
    }

    #[test]
    fn values_parse() {
        assert_eq!(run(&["--port", "8080"]).unwrap().port, 8080);
    }

    #[test]
    fn bad_values_are_one_line_naming_the_variable_with_code_2() {
        let exit = run(&["--port", "eighty"]).unwrap_err();
        assert_eq!(exit.code, 2);
        assert!(exit.message.contains("TOOL_TEST_PORT"), "{}", exit.message);
        assert!(!exit.message.contains('\n'), "{}", exit.message);
        let unknown = run(&["--nope"]).unwrap_err();
        assert_eq!((unknown.code, unknown.message.lines().count()), (2, 1));
    }

    #[test]
    fn help_and_version_exit_0() {
        let help = run(&["--help"]).unwrap_err();
        assert_eq!(help.code, 0);
        assert!(help.message.contains("TOOL_TEST_PORT"));
        assert_eq!(run(&["--version"]).unwrap_err().code, 0);
    }

    #[test]
    fn invalid_settings_are_one_line() {
        let exit = Exit::invalid("HTTP_PORT: must be\nsmall");
        assert_eq!(exit, Exit { message: "error: HTTP_PORT: must be".to_owned(), code: 2 });
    }
}
