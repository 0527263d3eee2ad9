//! A local SMTP server (mailin-embedded) that writes every accepted message to a folder
//! as `NNNN.eml`. The demo runs it in-process; `vigil mailcatcher` runs it standalone.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use mailin_embedded::{Handler, Response, Server, SslConfig, response};

use crate::cli::MailcatcherArgs;

#[derive(Clone)]
struct SaveToFolder {
    dir: PathBuf,
    counter: Arc<AtomicU64>,
    message: Vec<u8>,
}

impl Handler for SaveToFolder {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.message.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.message.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let number = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let path = self.dir.join(format!("{number:04}.eml"));
        let temporary = self.dir.join(format!(".{number:04}.eml.tmp"));
        // Write then rename, so a reader never sees half a message.
        let written = std::fs::File::create(&temporary)
            .and_then(|mut file| file.write_all(&self.message).and_then(|()| file.sync_all()))
            .and_then(|()| std::fs::rename(&temporary, &path));
        match written {
            Ok(()) => response::OK,
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "cannot save captured mail");
                response::INTERNAL_ERROR
            }
        }
    }
}

/// Binds `listen` and serves on a background thread; returns the bound address.
pub fn spawn(listen: &str, dir: &Path) -> anyhow::Result<SocketAddr> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let existing = std::fs::read_dir(dir)?
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
        })
        .count();
    let listener = TcpListener::bind(listen)
        .with_context(|| format!("binding the mail catcher to {listen}"))?;
    let address = listener.local_addr()?;
    let handler = SaveToFolder {
        dir: dir.to_path_buf(),
        counter: Arc::new(AtomicU64::new(existing as u64)),
        message: Vec::new(),
    };
    let mut server = Server::new(handler);
    server
        .with_name("vigil-mailcatcher")
        .with_ssl(SslConfig::None)
        .map_err(|e| anyhow::anyhow!("mail catcher TLS setup: {e}"))?
        .with_tcp_listener(listener);
    std::thread::Builder::new()
        .name("mailcatcher".into())
        .spawn(move || {
            // serve() only returns on a listener error; its error type is not Send.
            if let Err(error) = server.serve() {
                tracing::error!(error = %error, "mail catcher stopped");
            }
        })?;
    Ok(address)
}

pub fn run_forever(args: MailcatcherArgs) -> anyhow::Result<ExitCode> {
    let address = spawn(&args.listen, &args.dir)?;
    println!(
        "mailcatcher listening on {address}, saving messages to {}",
        args.dir.display()
    );
    loop {
        std::thread::park();
    }
}
