//! Headless Chromium (Debian's `chromium` package), driven from the tests over the DevTools
//! protocol on a pipe (`--remote-debugging-pipe`: commands in on fd 3, answers out on fd 4,
//! each message JSON ended by a NUL byte). No WebSocket, no driver, no browser download.
//!
//! The browser is real: it follows redirects, keeps cookies, submits forms with their CSRF
//! fields and enforces the pages' Content-Security-Policy. The tests read the DOM with
//! `Runtime.evaluate` and keep full-page screenshots, 1280 CSS pixels wide, under
//! `target/screenshots/`.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The page width screenshots are taken at.
pub const WIDTH: u32 = 1280;

pub struct Browser {
    child: Child,
    to_browser: std::io::PipeWriter,
    from_browser: mpsc::Receiver<Value>,
    /// Events read while waiting for an answer, oldest first.
    events: Vec<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

/// The Chromium binary: `$CHROMIUM`, else Debian's.
fn binary() -> PathBuf {
    std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

impl Browser {
    /// Start Chromium with an empty profile and open one tab.
    pub fn start() -> Browser {
        let bin = binary();
        assert!(
            bin.exists(),
            "{} is missing: install Debian's chromium package (`apt-get install chromium`; .ci/run does)",
            bin.display()
        );
        let profile = tempfile::tempdir().unwrap();
        let (commands_read, commands_write) = std::io::pipe().unwrap();
        let (answers_read, answers_write) = std::io::pipe().unwrap();
        let (fd_in, fd_out) = (commands_read.as_raw_fd(), answers_write.as_raw_fd());
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1280,900",
            "--remote-debugging-pipe",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec. The pipe
        // ends are first moved above 9, so placing them at 3 and 4 cannot close one another.
        unsafe {
            cmd.pre_exec(move || {
                let high_in = libc::fcntl(fd_in, libc::F_DUPFD, 10);
                let high_out = libc::fcntl(fd_out, libc::F_DUPFD, 10);
                if high_in < 0 || high_out < 0 || libc::dup2(high_in, 3) < 0 || libc::dup2(high_out, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{} does not start: {e}", bin.display()));
        drop((commands_read, answers_write));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(answers_read);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                message.pop_if(|b| *b == 0);
                if let Ok(value) = serde_json::from_slice::<Value>(&message)
                    && tx.send(value).is_err()
                {
                    break;
                }
                message.clear();
            }
        });
        let mut browser = Browser {
            child,
            to_browser: commands_write,
            from_browser: rx,
            events: Vec::new(),
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = browser.call("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }));
        browser.session = attached["sessionId"].as_str().expect("a session id").to_owned();
        browser.call("Page.enable", json!({}));
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        );
        browser
    }

    /// Send a command (to the tab once one is attached) and wait for its answer; events that
    /// arrive meanwhile are kept.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = self.session.clone().into();
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to_browser.write_all(&bytes).expect("chromium reads its pipe");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let value = self
                .from_browser
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("chromium did not answer {method} within 30 s"));
            if value["id"].as_u64() == Some(id) {
                if let Some(error) = value.get("error") {
                    panic!("{method} failed: {error}");
                }
                return value["result"].clone();
            }
            if value.get("method").is_some() {
                self.events.push(value);
            }
        }
    }

    /// Wait for an event of the tab (one already seen counts), and forget it.
    fn wait_event(&mut self, method: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
                self.events.remove(i);
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let value = self.from_browser.recv_timeout(left).unwrap_or_else(|_| panic!("no {method} within 30 s"));
            if value.get("method").is_some() {
                self.events.push(value);
            }
        }
    }

    /// Open `url` and wait until the page (after any redirects) has loaded.
    pub fn goto(&mut self, url: &str) {
        self.events.clear();
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_event("Page.loadEventFired");
    }

    /// Evaluate JavaScript in the page and return its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true }));
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Click the element `selector` picks and wait for the page it leads to.
    pub fn click_and_wait(&mut self, selector: &str) {
        self.events.clear();
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
            serde_json::to_string(selector).unwrap()
        ));
        assert_eq!(found, Value::Bool(true), "nothing on {} matches {selector}", self.path());
        self.wait_event("Page.loadEventFired");
    }

    /// Type `text` into the input `selector` picks.
    pub fn fill(&mut self, selector: &str, text: &str) {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.value = {}; return true; }})()",
            serde_json::to_string(selector).unwrap(),
            serde_json::to_string(text).unwrap()
        ));
        assert_eq!(found, Value::Bool(true), "no input {selector} on {}", self.path());
    }

    /// The page's path and query.
    pub fn path(&mut self) -> String {
        self.eval("location.pathname + location.search").as_str().unwrap_or_default().to_owned()
    }

    /// The text of the page as a person reads it.
    pub fn text(&mut self) -> String {
        self.eval("document.body.innerText").as_str().unwrap_or_default().to_owned()
    }

    /// The text of every element `selector` picks.
    pub fn texts(&mut self, selector: &str) -> Vec<String> {
        let value = self.eval(&format!(
            "Array.from(document.querySelectorAll({})).map(e => e.innerText.trim())",
            serde_json::to_string(selector).unwrap()
        ));
        value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    }

    /// A full-page PNG, 1280 pixels wide, kept as `target/screenshots/<name>.png`. Returns
    /// the file and the image's (width, height) as its header says.
    pub fn screenshot(&mut self, name: &str) -> (PathBuf, (u32, u32)) {
        let height = self.eval("Math.ceil(document.documentElement.scrollHeight)").as_u64().unwrap_or(900).max(600);
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        );
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
        let size =
            (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap();
        (path, size)
    }
}

/// `target/screenshots`, beside the tests' own scratch directory.
pub fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or(tmp.clone(), |t| t.to_path_buf()).join("screenshots")
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
