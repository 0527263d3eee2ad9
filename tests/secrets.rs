//! Secrets from files and `check-config --print`, against the real `vigil` binary: a
//! token read from a `token_file` opens the API, the printed config is valid TOML that
//! names every secret reference and whether it resolves but never holds a secret, and
//! the daemon's log never holds one either.

mod support;

use std::path::Path;

use support::*;

const FILE_TOKEN: &str = "file-token-2f9c1e";
const ENV_TOKEN: &str = "viewer-secret";
const URL_PASSWORD: &str = "pw-in-the-url-77";

fn write_secret(path: &Path, value: &str, mode: u32) {
    std::fs::write(path, format!("{value}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
}

#[test]
fn token_files_work_and_print_redacts_every_secret() {
    let dir = tempfile::tempdir().unwrap();
    let api_port = free_port();
    write_secret(&dir.path().join("admin.token"), FILE_TOKEN, 0o600);
    write_secret(&dir.path().join("loose.token"), "loose-token-value", 0o644);
    let config = acme_config(
        dir.path(),
        "acme",
        &format!(
            "[server]\nlisten = \"127.0.0.1:{api_port}\"\n\
             [[server.tokens]]\nname = \"ana\"\nrole = \"viewer\"\ntoken_env = \"T_VIEW\"\n\
             [[server.tokens]]\nname = \"root\"\nrole = \"admin\"\ntoken_file = \"admin.token\" # mounted secret\n\
             [[server.tokens]]\nname = \"loose\"\nrole = \"viewer\"\ntoken_file = \"loose.token\"\n\
             [[server.tokens]]\nname = \"gone\"\nrole = \"viewer\"\ntoken_env = \"T_SURELY_UNSET_4821\"\n\
             [[sources]]\nname = \"feed\"\nkind = \"rss\"\nurl = \"https://bot:{URL_PASSWORD}@feeds.example.com/acme.xml?q=acme\"\n"
        ),
    );
    let config_arg = config.to_str().unwrap();

    let check = vigil()
        .args(["check-config", "--print", "--config", config_arg])
        .env("T_VIEW", ENV_TOKEN)
        .output()
        .unwrap();
    let (out, err) = (stdout(&check), stderr(&check));
    assert!(check.status.success(), "{out}\n{err}");
    for secret in [FILE_TOKEN, ENV_TOKEN, URL_PASSWORD, "loose-token-value"] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{secret} printed:\n{out}\n{err}"
        );
    }
    let printed: toml_edit::DocumentMut = out.parse().expect("stdout is TOML");
    assert_eq!(
        printed["server"]["tokens"]
            .as_array_of_tables()
            .unwrap()
            .len(),
        4
    );
    assert!(
        out.contains("token_env = \"T_VIEW\" # secret: set\n"),
        "{out}"
    );
    assert!(
        out.contains("token_file = \"admin.token\" # secret: set # mounted secret\n"),
        "{out}"
    );
    assert!(
        out.contains("# secret: environment variable T_SURELY_UNSET_4821 is not set"),
        "{out}"
    );
    assert!(
        out.contains("https://bot:REDACTED@feeds.example.com/acme.xml?q=acme"),
        "{out}"
    );
    assert!(err.contains(": ok (1 brands, 1 sources"), "{err}");
    assert!(
        err.contains("warning: server.tokens[gone].token: environment variable T_SURELY_UNSET_4821 is not set (needed at run time)"),
        "{err}"
    );
    #[cfg(unix)]
    assert!(
        err.contains("warning: server.tokens[loose].token: secret file")
            && err.contains("mode 644"),
        "{err}"
    );

    // The daemon takes the admin token from the file (without its newline).
    let log = dir.path().join("daemon.log");
    let mut daemon = start_api_daemon(&config, &log, api_port);
    let (status, body) = http(api_port, "GET", "/api/sources", Some(FILE_TOKEN));
    assert_eq!(status, 200, "{body}");
    let (status, _) = http(api_port, "GET", "/api/sources", Some(ENV_TOKEN));
    assert_eq!(status, 200);
    let (status, _) = http(api_port, "GET", "/api/sources", Some("wrong"));
    assert_eq!(status, 401);
    daemon.terminate();
    let log_text = std::fs::read_to_string(&log).unwrap();
    for secret in [FILE_TOKEN, ENV_TOKEN] {
        assert!(
            !log_text.contains(secret),
            "{secret} in the log:\n{log_text}"
        );
    }
}

#[test]
fn a_missing_secret_file_is_a_warning_and_both_forms_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = acme_config(
        dir.path(),
        "acme",
        "[[server.tokens]]\nname = \"a\"\nrole = \"viewer\"\ntoken_file = \"nope.token\"\n",
    );
    let check = run(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(check.status.success(), "{}", stderr(&check));
    let out = stdout(&check);
    assert!(
        out.contains("warning: server.tokens[a].token: secret file ")
            && out.contains("nope.token: No such file"),
        "{out}"
    );

    let config = acme_config(
        dir.path(),
        "acme",
        "[[server.tokens]]\nname = \"a\"\nrole = \"viewer\"\ntoken_env = \"A\"\ntoken_file = \"a.token\"\n",
    );
    let check = run(&[
        "check-config",
        "--print",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(check.status.code(), Some(2));
    assert!(
        stderr(&check)
            .contains("server.tokens[0].token_file: give either token_env or token_file, not both"),
        "{}",
        stderr(&check)
    );
    assert!(
        stdout(&check).is_empty(),
        "nothing printed for a bad config"
    );
}
