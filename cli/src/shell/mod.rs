//! The shell: `dfs shell`, or `dfs` alone. On a terminal it is interactive (rustyline: line
//! editing, Tab completion and hints from [`helper`], history in `~/.dfs_history`, prompt
//! `dfs:/cwd> `); otherwise it reads commands from standard input line by line, so it can be
//! scripted, and exits non-zero if any failed. An error prints one `error: ...` line and the
//! shell goes on.
//!
//! Besides the commands of the one-shot command line it has the builtins of ftp and sftp:
//! `cd` (`cd -` goes back, `cd` alone to `/`), `pwd`, `lcd`, `lpwd`, and `help`.

pub mod complete;
pub mod helper;

use crate::args::ShellLine;
use crate::commands::{self, emit};
use crate::tokenize::{words, Word};
use crate::{help, paths, report, CliError, Context, Settings};
use clap::Parser;
use dfs_common::wire::EntryKind;
use helper::ShellHelper;
use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::Editor;
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
    let mut ctx = Context::new(settings.clone(), progress);
    ctx.ask = std::io::stdin().is_terminal();
    let mut shell = Shell::new(runtime, ctx);
    let failed = if std::io::stdin().is_terminal() {
        shell.interactive(settings)
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
    /// Where `cd -` goes back to.
    previous: Option<String>,
}

impl<'a> Shell<'a> {
    /// A session at `/`.
    pub fn new(runtime: &'a Runtime, ctx: Context) -> Self {
        Shell {
            ctx,
            runtime,
            previous: None,
        }
    }

    /// The current directory.
    pub fn cwd(&self) -> &str {
        &self.ctx.cwd
    }

    /// The interactive loop. Returns whether reading the terminal failed (command errors
    /// were shown to the person and do not change the exit status).
    fn interactive(&mut self, settings: Settings) -> bool {
        // List, as bash does: the first Tab completes what all candidates share, the next
        // one lists them.
        let config = Config::builder()
            .completion_type(CompletionType::List)
            .build();
        let mut editor: Editor<ShellHelper, FileHistory> = match Editor::with_config(config) {
            Ok(editor) => editor,
            Err(e) => {
                eprintln!("error: cannot start the line editor ({e}); reading commands plainly");
                return self.scripted(std::io::stdin().lock());
            }
        };
        editor.set_helper(Some(ShellHelper::new(
            settings,
            self.runtime.handle().clone(),
        )));
        let history = history_path();
        if let Some(path) = &history {
            // A missing history file is the normal first start.
            let _ = editor.load_history(path);
        }
        eprintln!("dfs shell: `help` lists the commands, Tab completes, `exit` or Ctrl-D leaves");
        let mut failed = false;
        loop {
            if let Some(helper) = editor.helper_mut() {
                helper.cwd = self.ctx.cwd.clone();
            }
            let prompt = format!("dfs:{}> ", self.ctx.cwd);
            match editor.readline(&prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        // Without the space a completion leaves, so hints end with the word.
                        let _ = editor.add_history_entry(line.trim_end());
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
        let words = words(line).map_err(CliError::Usage)?;
        self.execute_words(&words)
    }

    fn execute_words(&mut self, words: &[Word]) -> Result<Flow, CliError> {
        let Some(first) = words.first() else {
            return Ok(Flow::Continue);
        };
        let texts: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
        match first.text.as_str() {
            "exit" | "quit" => Ok(Flow::Exit),
            "help" => {
                let topic = texts[1..].join(" ");
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
                no_more_args(&texts, 1)?;
                emit(&format!("{}\n", self.ctx.cwd))?;
                Ok(Flow::Continue)
            }
            "cd" => {
                no_more_args(&texts, 2)?;
                self.cd(texts.get(1).map(String::as_str).unwrap_or("/"))?;
                Ok(Flow::Continue)
            }
            "lpwd" => {
                no_more_args(&texts, 1)?;
                let here = std::env::current_dir()
                    .map_err(CliError::io("cannot read the local directory"))?;
                emit(&format!("{}\n", here.display()))?;
                Ok(Flow::Continue)
            }
            "lcd" => {
                no_more_args(&texts, 2)?;
                lcd(texts.get(1).map(String::as_str))?;
                Ok(Flow::Continue)
            }
            "show" if words.len() >= 2 && runs_before_show(&words[1].text) => {
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
                "`{}` cannot run inside the shell",
                first.text
            ))),
            name if help::find(name).is_none() => Err(CliError::Usage(help::unknown_command(name))),
            _ => {
                let parsed = match ShellLine::try_parse_from(clap_words(words)) {
                    Ok(parsed) => parsed,
                    Err(err) => return clap_outcome(&texts, err),
                };
                self.runtime
                    .block_on(commands::run(&mut self.ctx, parsed.command))?;
                Ok(Flow::Continue)
            }
        }
    }

    /// `cd PATH`: PATH must be a directory; `-` is the previous one.
    fn cd(&mut self, target: &str) -> Result<(), CliError> {
        let target = if target == "-" {
            self.previous
                .clone()
                .ok_or_else(|| CliError::Usage("cd -: no previous directory yet".into()))?
        } else {
            target.to_owned()
        };
        let path = self.ctx.resolve(&target)?;
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
        let new = paths::trim_slash(&path).to_owned();
        self.previous = Some(std::mem::replace(&mut self.ctx.cwd, new));
        Ok(())
    }
}

/// `lcd [DIR]`: changes the process's directory, which `put` reads from and `get` writes
/// to; no DIR is the home directory, `~/` is expanded.
fn lcd(dir: Option<&str>) -> Result<(), CliError> {
    let target = complete::expand_home(dir.unwrap_or("~"));
    std::env::set_current_dir(&target).map_err(CliError::io(format!(
        "lcd: cannot enter {}",
        target.display()
    )))
}

/// The words clap parses: the text of each word, but the wildcard pattern
/// ([`Word::pattern`]) for the remote arguments of the commands that expand them, so that a
/// quoted `'a*'` stays literal while a bare `a*` matches. The local argument of `get` (the
/// last of several) is plain text.
fn clap_words(words: &[Word]) -> Vec<String> {
    let globbing = matches!(
        words.first().map(|w| w.text.as_str()),
        Some("ls" | "rm" | "get" | "cp" | "mv")
    );
    if !globbing {
        return words.iter().map(|w| w.text.clone()).collect();
    }
    let mut after_dashes = false;
    let positional: Vec<bool> = words
        .iter()
        .enumerate()
        .map(|(index, word)| {
            let is_positional =
                index > 0 && (after_dashes || !word.text.starts_with('-') || word.text == "-");
            after_dashes |= word.text == "--";
            is_positional
        })
        .collect();
    let last_local = if words[0].text == "get" && positional.iter().filter(|p| **p).count() > 1 {
        positional.iter().rposition(|p| *p)
    } else {
        None
    };
    words
        .iter()
        .zip(&positional)
        .enumerate()
        .map(|(index, (word, positional))| {
            if *positional && Some(index) != last_local {
                word.pattern.clone()
            } else {
                word.text.clone()
            }
        })
        .collect()
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

/// `--help` prints the command's help; other clap errors become one line, with the
/// command's usage when arguments are missing.
fn clap_outcome(words: &[String], err: clap::Error) -> Result<Flow, CliError> {
    use clap::error::ErrorKind;
    let name = words.first().map(String::as_str).unwrap_or("");
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        emit(&err.render().to_string())?;
        return Ok(Flow::Continue);
    }
    if matches!(
        err.kind(),
        ErrorKind::MissingRequiredArgument
            | ErrorKind::MissingSubcommand
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        if let Some(usage) = help::usage_line(words) {
            return Err(CliError::Usage(format!(
                "{name}: too few arguments (usage: {usage})"
            )));
        }
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
mod tests;
