//! A pseudo-terminal for driving the real `dfs` binary as a person would: keystrokes in (Tab
//! included), the screen's text out. Built on rustix's `pty` (already a workspace
//! dependency; no pty crate needed), without a controlling terminal: rustyline only needs
//! its standard input and output to be a terminal.
//!
//! What the terminal shows is matched after removing escape sequences (colours, cursor
//! moves). rustyline redraws the prompt and line on every key (the hint changes), each
//! redraw starting with `\r`; a new prompt follows a `\n`, which is how
//! [`Terminal::expect_prompt`] tells them apart.

use rustix::fs::{Mode, OFlags};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcsetwinsize, Winsize};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long to wait for text before failing the test: a guard against hangs, far above
/// what any step needs; no step's duration is asserted.
const PATIENCE: Duration = Duration::from_secs(60);

/// A program running on a pseudo-terminal.
pub struct Terminal {
    child: Child,
    input: File,
    screen: Arc<Mutex<Vec<u8>>>,
    /// How much of the (cleaned) screen text earlier expectations consumed.
    seen: usize,
    /// How many raw bytes [`Terminal::expect_raw`] consumed.
    raw_seen: usize,
}

impl Terminal {
    /// Starts `command` with a new terminal as its standard input, output and error.
    pub fn spawn(mut command: Command) -> Terminal {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let slave: OwnedFd = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("open the terminal's slave side");
        // Wide enough that no line wraps; 0 rows means "unlimited" to rustyline, so a
        // completion list is never paged.
        tcsetwinsize(
            &slave,
            Winsize {
                ws_row: 0,
                ws_col: 250,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )
        .expect("set the terminal size");
        command
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .env("TERM", "xterm");
        let child = command.spawn().expect("the program starts");
        let master = File::from(master);
        let input = master.try_clone().unwrap();
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut master = master;
            let mut buf = [0u8; 4096];
            // Ends with an error (EIO) once the program and its children closed the terminal.
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            child,
            input,
            screen,
            seen: 0,
            raw_seen: 0,
        }
    }

    /// Types `keys` (`\t` is Tab, `\r` is Enter).
    pub fn send(&mut self, keys: &str) {
        self.input.write_all(keys.as_bytes()).unwrap();
        self.input.flush().unwrap();
    }

    /// The screen's text so far, escape sequences removed, `\r\n` made `\n`.
    pub fn text(&self) -> String {
        clean(&String::from_utf8_lossy(&self.screen.lock().unwrap()))
    }

    /// Waits until the terminal received `needle` as bytes, escape sequences included (a
    /// colour, say), anywhere after what this method matched before.
    pub fn expect_raw(&mut self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            {
                let raw = self.screen.lock().unwrap();
                let found = raw[self.raw_seen..]
                    .windows(needle.len())
                    .position(|w| w == needle.as_bytes());
                if let Some(at) = found {
                    self.raw_seen += at + needle.len();
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!("the terminal never received {needle:?}:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `needle` appears after what earlier expectations consumed; returns the
    /// text from there to the end of `needle`.
    pub fn expect(&mut self, needle: &str) -> String {
        self.wait_for(needle, |text, at| {
            text[at..].find(needle).map(|found| at + found)
        })
    }

    /// Waits for a new prompt `prompt` (not a redraw of the line being typed): one that
    /// starts a line.
    pub fn expect_prompt(&mut self, prompt: &str) -> String {
        self.wait_for(prompt, |text, at| {
            let mut from = at;
            while let Some(found) = text[from..].find(prompt) {
                let start = from + found;
                if text[..start].trim_end_matches('\r').ends_with('\n') {
                    return Some(start);
                }
                from = start + prompt.len();
            }
            None
        })
    }

    fn wait_for(&mut self, needle: &str, find: impl Fn(&str, usize) -> Option<usize>) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.text();
            if let Some(start) = find(&text, self.seen) {
                let end = start + needle.len();
                let got = text[self.seen..end].to_owned();
                self.seen = end;
                return got;
            }
            if Instant::now() > deadline {
                panic!(
                    "the terminal never showed {needle:?}; after the last match it shows:\n{}",
                    &text[self.seen..]
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the program to end; whether it succeeded.
    pub fn wait(mut self) -> bool {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the program did not end; screen:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // Only our own child, by handle: a failed test must not leave a shell behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `raw` without ANSI escape sequences (CSI `ESC [ ... final`, and two-character `ESC x`),
/// with `\r\n` as `\n`.
fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        // A CSI sequence: parameters and intermediates, then one final byte in @..~; any
        // other escape is two characters.
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out.replace("\r\n", "\n")
}

#[test]
fn escape_sequences_are_removed() {
    assert_eq!(clean("\x1b[90mhint\x1b[0m\r\nx\x1b[?2004h"), "hint\nx");
}
