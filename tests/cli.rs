//! The `mkoba` binary as a newcomer uses it: `serve` on a fresh embedded database seeds the demo
//! world and answers `/healthz`; `admin reconcile` balances; admin commands move float.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mkoba");

fn mkoba(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    // The child sees only the configuration this test gives it.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("MKOBA_")) {
        cmd.env_remove(key);
    }
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("MKOBA_SECURITY__ARGON2_MEMORY_KIB", "8192")
        .env("MKOBA_SECURITY__ARGON2_ITERATIONS", "1")
        .env("MKOBA_LOG__FILTER", "warn");
    cmd
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> Option<String> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

#[test]
fn serve_seeds_the_demo_world_and_admin_reconcile_balances() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = mkoba(dir.path())
        .args(["serve"])
        .env("MKOBA_SERVER__BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        if let Some(text) = get(port, "/healthz") {
            break text;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
            panic!("server exited with {status}: {stderr}");
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#"{"status":"ok"}"#));

    let reconcile = mkoba(dir.path())
        .args(["admin", "reconcile"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&reconcile.stdout);
    assert!(reconcile.status.success(), "{text}");
    assert!(text.contains("BALANCED"), "{text}");
    assert!(
        text.contains("1,000,000.00"),
        "the demo issued 1,000,000.00 KES: {text}"
    );

    // The operator issues float against a trust deposit; the bank reference makes it idempotent.
    for expected in ["posted", "already posted"] {
        let out = mkoba(dir.path())
            .args([
                "admin",
                "issue-float",
                "--agent",
                "AG101",
                "--amount",
                "5000",
                "--trust-reference",
                "BANK-77",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains(expected), "{text}");
    }
    let out = mkoba(dir.path())
        .args([
            "admin",
            "issue-float",
            "--agent",
            "AG101",
            "--amount",
            "12.505",
            "--trust-reference",
            "BANK-78",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("amount_too_precise"));

    // A super-agent rebalances float to an agent; the operator's reference makes it idempotent.
    for expected in ["posted", "already posted"] {
        let out = mkoba(dir.path())
            .args([
                "admin",
                "transfer-float",
                "--from",
                "SA001",
                "--to",
                "AG102",
                "--amount",
                "2500",
                "--reference",
                "R-1",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains(expected), "{text}");
    }
    let out = mkoba(dir.path())
        .args(["admin", "statement", "--account", "8"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("float AG102") && text.contains("balance KES 200,500.00"),
        "{text}"
    );

    // A PIN arrives on standard input, never as an argument; weak ones are refused.
    let mut child = mkoba(dir.path())
        .args([
            "admin",
            "create-customer",
            "--msisdn",
            "0722000111",
            "--name",
            "Dana",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"1234\n").unwrap();
    assert!(
        !child.wait_with_output().unwrap().status.success(),
        "1234 is a weak PIN"
    );

    let reconcile = mkoba(dir.path())
        .args(["admin", "reconcile"])
        .output()
        .unwrap();
    assert!(reconcile.status.success());
    assert!(String::from_utf8_lossy(&reconcile.stdout).contains("1,005,000.00"));

    let _ = server.0.kill();
    let stdout = server.0.wait_with_output_ref();
    assert!(
        stdout.contains("+254700000001"),
        "the banner lists demo customers: {stdout}"
    );
}

trait WaitWithOutputRef {
    fn wait_with_output_ref(&mut self) -> String;
}

impl WaitWithOutputRef for Child {
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let _ = self.wait();
        let mut text = String::new();
        if let Some(mut out) = self.stdout.take() {
            let _ = out.read_to_string(&mut text);
        }
        text
    }
}
