//! The daemon is killed (`kill -9`) while a mail server holds its crisis mail without
//! replying; after a restart against a working server the mail arrives exactly once,
//! with the same Message-ID, and the store records it sent.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use vigil_core::{AlertStore, NotificationKind, NotificationStatus};

fn write_config(dir: &Path, base: &str, smtp_port: u16, api_port: u16) -> PathBuf {
    let config = format!(
        r#"[storage]
data_dir = "data"
retention_days = 36500

[server]
listen = "127.0.0.1:{api_port}"

[[brands]]
name = "Acme"
query = '"acme"'

[[sources]]
name = "en"
kind = "rss"
url = "{base}/en.rss"
interval = "1s"

[crawler]
per_host_interval = "50ms"
allow_private_addresses = true
timeout = "2s"

[alerts]
evaluate_every = "1s"

[alerts.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
from = "Vigil <vigil@test.invalid>"
# Far longer than the test waits (it bounds the whole send), so the daemon is still
# inside the send when killed.
timeout = "10m"

[alerts.outbox]
retry_initial = "500ms"
retry_max = "1s"

[[alerts.recipients]]
name = "pr"
emails = ["pr@test.invalid"]

[[alerts.rules]]
name = "recall-terms"
brand = "Acme"
kind = "keyword"
query = "recall"
severity = "crisis"
notify = ["pr"]
script = "safety"

[[scripts]]
name = "safety"
subject = "[{{{{ severity }}}}] {{{{ brand }}}}: {{{{ rule }}}}"
body = "SCRIPT-MARKER: apologise for {{{{ brand }}}}."
"#
    );
    let path = dir.join("vigil.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// The message a server received, once the final "." arrived.
type Received = Arc<Mutex<Option<Vec<u8>>>>;

/// Accepts one SMTP connection on `listener`, takes the whole message after DATA and
/// then never replies, holding the connection until the client goes away. The listener
/// is closed once the connection is accepted, so the port is free for another server.
fn start_stalling_server(listener: TcpListener) -> (Received, std::thread::JoinHandle<()>) {
    let received = Received::default();
    let recorded = received.clone();
    let thread = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        drop(listener);
        if let Err(error) = stall_session(stream, &recorded) {
            eprintln!("stalling SMTP session ended: {error}");
        }
    });
    (received, thread)
}

fn stall_session(stream: TcpStream, received: &Mutex<Option<Vec<u8>>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    writer.write_all(b"220 stall.test ESMTP\r\n")?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).to_ascii_uppercase();
        match command.split([' ', '\r']).next().unwrap_or("") {
            "EHLO" | "HELO" => writer.write_all(b"250 stall.test\r\n")?,
            "MAIL" | "RCPT" => writer.write_all(b"250 OK\r\n")?,
            "DATA" => {
                writer.write_all(b"354 go ahead\r\n")?;
                let mut message = Vec::new();
                loop {
                    line.clear();
                    if reader.read_until(b'\n', &mut line)? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" {
                        break;
                    }
                    message.extend_from_slice(&line);
                }
                *received.lock().unwrap() = Some(message);
                // Never reply; wait until the client's end of the socket closes.
                while reader.read_until(b'\n', &mut line)? > 0 {
                    line.clear();
                }
                return Ok(());
            }
            _ => writer.write_all(b"502 not here\r\n")?,
        }
    }
}

fn incidents_json(config: &Path) -> serde_json::Value {
    let output = run(&[
        "incidents",
        "list",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn crisis_mail_held_unanswered_at_kill_9_is_delivered_once_after_restart() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let feeds = SharedFeeds::default();
    {
        let mut state = feeds.lock().unwrap();
        state
            .english
            .push(item("en-1", "Acme kettle works nicely, happy customer", 30));
        state.english.push(item(
            "en-crisis",
            "Acme announces a recall of its kettles after burns",
            1,
        ));
    }
    let base = start_feed_server(feeds);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let smtp_port = listener.local_addr().unwrap().port();
    let (stalled, stall_thread) = start_stalling_server(listener);
    let config = write_config(dir, &base, smtp_port, free_port());
    let log = dir.join("daemon.log");
    let mail_dir = dir.join("mail");

    // 1. The crisis mail goes to a server that takes it and never answers.
    let mut daemon = spawn_daemon(&config, &log);
    wait_for(
        "the crisis mail to reach the stalling server",
        Duration::from_secs(90),
        || stalled.lock().unwrap().is_some(),
    );
    let stalled_mail = String::from_utf8(stalled.lock().unwrap().clone().unwrap()).unwrap();
    let stalled_id = header_value(&stalled_mail, "Message-ID").expect("Message-ID");

    // 2. kill -9 while the daemon waits for the reply; the stalling server goes away.
    daemon.kill9();
    stall_thread.join().unwrap();
    let data = dir.join("data");
    {
        let store = vigil_store::Store::open(&data).unwrap();
        let incidents = store.incidents(None).unwrap();
        assert_eq!(incidents.len(), 1, "{incidents:?}");
        let notifications = store.notifications_for_incident(incidents[0].id).unwrap();
        assert_eq!(notifications.len(), 1, "{notifications:?}");
        assert_eq!(
            notifications[0].status,
            NotificationStatus::Pending,
            "no reply came, so it is not recorded as sent"
        );
    }

    // 3. A working mail server on the same port, and the daemon again.
    let _smtp = spawn_mailcatcher(smtp_port, &mail_dir);
    let _daemon = spawn_daemon(&config, &log);
    wait_for(
        "the crisis mail after the restart",
        Duration::from_secs(90),
        || !mails(&mail_dir).is_empty(),
    );
    // Let further delivery rounds run: none may send it again.
    std::thread::sleep(Duration::from_secs(4));
    let delivered = mails(&mail_dir);
    assert_eq!(delivered.len(), 1, "delivered exactly once");
    let delivered_id = header_value(&delivered[0], "Message-ID").unwrap();
    assert_eq!(
        delivered_id, stalled_id,
        "the retry after the crash keeps the Message-ID, so a server that did take the \
         first copy can drop the second"
    );
    assert!(
        mail_text(&delivered[0]).contains("SCRIPT-MARKER: apologise for Acme"),
        "{}",
        delivered[0]
    );

    // 4. The store and the CLI agree it was sent, once.
    let incidents = incidents_json(&config);
    let incidents = incidents.as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0]["rule"], "recall-terms");
    let store = vigil_store::Store::open(&data).unwrap();
    let incident_id = incidents[0]["id"].as_i64().unwrap();
    let notifications = store.notifications_for_incident(incident_id).unwrap();
    let firsts: Vec<_> = notifications
        .iter()
        .filter(|n| n.kind == NotificationKind::First)
        .collect();
    assert_eq!(firsts.len(), 1, "{notifications:?}");
    assert_eq!(firsts[0].status, NotificationStatus::Sent);
    assert_eq!(firsts[0].message_id, delivered_id);
    assert!(
        firsts[0]
            .smtp_reply
            .as_deref()
            .is_some_and(|r| r.starts_with("250")),
        "{:?}",
        firsts[0].smtp_reply
    );
}
