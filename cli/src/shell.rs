//! The shell: `dfs shell`, or `dfs` alone. On a terminal it is interactive (rustyline: line
//! editing, history in `~/.dfs_history`, prompt `dfs:/cwd> `); otherwise it reads commands
//! from standard input line by line, so it can be scripted, and exits non-zero if any failed.
//! An error prints one `error: ...` line and the shell goes on.

use crate::args::ShellLine;
use crate::commands::{self, emit};
use crate::tokenize::tokenize;
use crate::{help, paths, report, CliError, Context, Settings};
use clap::Parser;
use dfs_common::wire::EntryKind;
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::runtime::Runtime;

/// Whether the shell goes on after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line.
    Continue,
    /// `exit`, `quit`.
    Exit,
}

/// Runs the shell until `exit`, end of input or Ctrl-D.
pub fn run(runtime: &Runtime, settings: Settings) -> ExitCode {
    let progress = std::io::stderr().is_terminal();
    let mut shell = Shell {
        ctx: Context::new(settings, progress),
        runtime,
    };
    let failed = if std::io::stdin().is_terminal() {
        shell.interactive()
    } else {
        shell.scripted(std::io::stdin().lock())
    };
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A shell session: the current directory and the cluster connection live across lines.
pub struct Shell<'a> {
    ctx: Context,
    runtime: &'a Runtime,
}

impl<'a> Shell<'a> {
    /// A session at `/`.
    pub fn new(runtime: &'a Runtime, ctx: Context) -> Self {
        Shell { ctx, runtime }
    }

    /// The current directory.
    pub fn cwd(&self) -> &str {
        &self.ctx.cwd
    }

    /// The interactive loop. Returns whether reading the terminal failed (command errors
    /// were shown to the person and do not change the exit status).
    fn interactive(&mut self) -> bool {
        let mut editor = match DefaultEditor::new() {
            Ok(editor) => editor,
            Err(e) => {
                eprintln!("error: cannot start the line editor ({e}); reading commands plainly");
                return self.scripted(std::io::stdin().lock());
            }
        };
        let history = history_path();
        if let Some(path) = &history {
            // A missing history file is the normal first start.
            let _ = editor.load_history(path);
        }
        eprintln!("dfs shell: `help` lists the commands, `exit` or Ctrl-D leaves");
        let mut failed = false;
        loop {
            let prompt = format!("dfs:{}> ", self.ctx.cwd);
            match editor.readline(&prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    match self.execute(&line) {
                        Ok(Flow::Exit) => break,
                        Ok(Flow::Continue) => {}
                        Err(err) => report(&err),
                    }
                }
                // Ctrl-C at the prompt drops the line, as in bash.
                Err(ReadlineError::Interrupted) => {}
                Err(ReadlineError::Eof) => break,
                Err(e) => {
                    eprintln!("error: cannot read the terminal: {e}");
                    failed = true;
                    break;
                }
            }
        }
        if let Some(path) = &history {
            if let Err(e) = editor.save_history(path) {
                eprintln!("error: cannot save the history to {}: {e}", path.display());
            }
        }
        failed
    }

    /// Runs the commands of `input`, one per line, without prompt. Returns whether any
    /// failed. Stops at `exit`/`quit`, at the end of the input, or on Ctrl-C.
    pub fn scripted(&mut self, input: impl BufRead) -> bool {
        let mut failed = false;
        for line in input.lines() {
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    eprintln!("error: cannot read standard input: {e}");
                    return true;
                }
            };
            match self.execute(&line) {
                Ok(Flow::Exit) => break,
                Ok(Flow::Continue) => {}
                Err(err) => {
                    report(&err);
                    failed = true;
                    if matches!(err, CliError::Interrupted) || err.is_broken_pipe() {
                        break;
                    }
                }
            }
        }
        failed
    }

    /// Runs one line.
    pub fn execute(&mut self, line: &str) -> Result<Flow, CliError> {
        let words = tokenize(line).map_err(CliError::Usage)?;
        self.execute_words(&words)
    }

    fn execute_words(&mut self, words: &[String]) -> Result<Flow, CliError> {
        let Some(first) = words.first() else {
            return Ok(Flow::Continue);
        };
        match first.as_str() {
            "exit" | "quit" => Ok(Flow::Exit),
            "help" => {
                let topic = words[1..].join(" ");
                let text = if topic.is_empty() {
                    help::overview()
                } else {
                    help::command_help(&topic).ok_or_else(|| {
                        CliError::Usage(format!("no such command: {topic} (help lists them)"))
                    })?
                };
                emit(&text)?;
                Ok(Flow::Continue)
            }
            "pwd" => {
                no_more_args(words, 1)?;
                emit(&format!("{}\n", self.ctx.cwd))?;
                Ok(Flow::Continue)
            }
            "cd" => {
                no_more_args(words, 2)?;
                self.cd(words.get(1).map(String::as_str).unwrap_or("/"))?;
                Ok(Flow::Continue)
            }
            "show" if words.len() >= 2 && runs_before_show(&words[1]) => {
                if self.execute_words(&words[1..])? == Flow::Exit {
                    return Ok(Flow::Exit);
                }
                self.runtime.block_on(commands::run(
                    &mut self.ctx,
                    crate::args::Command::Show { path: None },
                ))?;
                Ok(Flow::Continue)
            }
            "dev" | "shell" => Err(CliError::Usage(format!(
                "`{first}` cannot run inside the shell"
            ))),
            name if help::find(name).is_none() => Err(CliError::Usage(format!(
                "unknown command: {name} (help lists the commands)"
            ))),
            name => {
                let parsed = match ShellLine::try_parse_from(words) {
                    Ok(parsed) => parsed,
                    Err(err) => return clap_outcome(name, err),
                };
                self.runtime
                    .block_on(commands::run(&mut self.ctx, parsed.command))?;
                Ok(Flow::Continue)
            }
        }
    }

    /// `cd PATH`: PATH must be a directory.
    fn cd(&mut self, target: &str) -> Result<(), CliError> {
        let path = self.ctx.resolve(target)?;
        if path != "/" {
            let client = self.ctx.client()?;
            let entry = self
                .runtime
                .block_on(commands::ns::stat_prefer_dir(&client, &path))
                .map_err(CliError::at(&path))?;
            if entry.kind != EntryKind::Dir {
                return Err(CliError::Usage(format!("not a directory: {path}")));
            }
        }
        self.ctx.cwd = paths::trim_slash(&path).to_owned();
        Ok(())
    }
}

/// Whether `show WORD ...` means "run WORD, then show the tree" rather than "show the tree
/// at path WORD". A path that happens to be named like a command can be written `./ls`.
fn runs_before_show(word: &str) -> bool {
    !matches!(word, "help" | "exit" | "quit") && help::find(word).is_some()
}

fn no_more_args(words: &[String], allowed: usize) -> Result<(), CliError> {
    if words.len() > allowed {
        let name = words.first().map(String::as_str).unwrap_or("");
        let usage = help::find(name).map(|h| h.usage).unwrap_or(name);
        return Err(CliError::Usage(format!(
            "too many arguments (usage: {usage})"
        )));
    }
    Ok(())
}

/// `--help` prints the command's help; other clap errors become one line.
fn clap_outcome(name: &str, err: clap::Error) -> Result<Flow, CliError> {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        emit(&err.render().to_string())?;
        return Ok(Flow::Continue);
    }
    let rendered = err.render().to_string();
    let first = rendered
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("invalid arguments");
    let first = first.trim().trim_start_matches("error: ");
    Err(CliError::Usage(format!(
        "{name}: {first} (help {name} shows the usage)"
    )))
}

/// `~/.dfs_history`, when there is a home.
fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join(".dfs_history"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell_in(runtime: &Runtime) -> Shell<'_> {
        let settings = Settings {
            metad: "127.0.0.1:1".into(),
            secret_file: None,
        };
        Shell::new(runtime, Context::new(settings, false))
    }

    #[test]
    fn builtins_need_no_cluster() {
        let runtime = Runtime::new().unwrap();
        let mut shell = shell_in(&runtime);
        assert_eq!(shell.execute("").unwrap(), Flow::Continue);
        assert_eq!(shell.execute("   # a comment").unwrap(), Flow::Continue);
        assert_eq!(shell.execute("help").unwrap(), Flow::Continue);
        assert_eq!(shell.execute("help ls").unwrap(), Flow::Continue);
        assert_eq!(shell.execute("help key create").unwrap(), Flow::Continue);
        assert_eq!(shell.execute("help uploads").unwrap(), Flow::Continue);
        assert_eq!(shell.execute("pwd").unwrap(), Flow::Continue);
        assert_eq!(shell.execute("cd").unwrap(), Flow::Continue);
        assert_eq!(shell.cwd(), "/");
        assert_eq!(shell.execute("cd /..").unwrap(), Flow::Continue);
        assert_eq!(shell.execute("exit").unwrap(), Flow::Exit);
        assert_eq!(shell.execute("quit").unwrap(), Flow::Exit);
    }

    #[test]
    fn bad_lines_are_one_line_errors() {
        let runtime = Runtime::new().unwrap();
        let mut shell = shell_in(&runtime);
        for line in [
            "frobnicate",
            "help frobnicate",
            "help key frobnicate",
            "key",
            "key create",
            "bucket allow b1",
            "uploads",
            "uploads ls",
            "uploads abort b1 k",
            "ls 'unterminated",
            "mkdir",
            "ls -z",
            "pwd extra",
            "dev",
            "shell",
        ] {
            let err = shell.execute(line).unwrap_err();
            let text = err.line();
            assert!(!text.is_empty() && !text.contains('\n'), "{line}: {text}");
        }
        let err = shell.execute("mkdir").unwrap_err().line();
        assert!(err.contains("help mkdir"), "{err}");
    }

    #[test]
    fn scripts_stop_at_exit_and_report_failures() {
        let runtime = Runtime::new().unwrap();
        let mut shell = shell_in(&runtime);
        assert!(!shell.scripted("pwd\nhelp\n".as_bytes()));
        assert!(shell.scripted("pwd\nfrobnicate\npwd\n".as_bytes()));
        // Nothing after exit runs, so the bad line is never seen.
        assert!(!shell.scripted("exit\nfrobnicate\n".as_bytes()));
    }

    #[test]
    fn show_distinguishes_commands_from_paths() {
        assert!(runs_before_show("mkdir"));
        assert!(runs_before_show("cd"));
        assert!(!runs_before_show("/b"));
        assert!(!runs_before_show("exit"));
    }
}
