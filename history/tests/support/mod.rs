//! A real PostgreSQL server for the tests, one per test: Debian's server binaries
//! (`/usr/lib/postgresql/<version>/bin`, the newest version there) run on a data directory in a
//! temporary directory, listening on 127.0.0.1 at a free port and on a Unix socket in the same
//! directory. Stopped (`pg_ctl stop -m immediate`) and removed on drop.
//!
//! `initdb` refuses to run as root: as root, the server runs as the `postgres` user (which
//! Debian's package creates) through `runuser`, in a directory handed to it.
//!
//! Every connection from 127.0.0.1 is trusted, except for [`PASSWORD_ROLE`], whose password is
//! checked (SCRAM), so a test can try a wrong one.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// The role whose password the server checks (the tests create it: [`PgServer::superuser`]).
pub const PASSWORD_ROLE: &str = "history_password";

/// Where Debian's packages put each version's server binaries.
const POSTGRESQL_LIB: &str = "/usr/lib/postgresql";

/// A running PostgreSQL server, stopped on drop.
pub struct PgServer {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    /// Whether the binaries run as the `postgres` user (the tests run as root).
    as_postgres: bool,
}

impl PgServer {
    /// Creates a cluster in a new temporary directory and starts its server.
    pub fn start() -> PgServer {
        let bin = server_binaries();
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = tempfile::Builder::new()
            .prefix("kube-shields-history-pg-")
            .tempdir()
            .expect("a temporary directory for PostgreSQL");
        if as_postgres {
            let uid = id_of("-u");
            let gid = id_of("-g");
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("hand the temporary directory to the postgres user");
        }
        let mut server = PgServer {
            dir,
            bin,
            port: 0,
            as_postgres,
        };
        let data = server.data();
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        // Files the server's user owns: rewritten in place, they stay its own.
        fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\n\
                 host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n\
                 host all all 127.0.0.1/32 trust\n"
            ),
        )
        .expect("write pg_hba.conf");
        let mut conf = OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .expect("open postgresql.conf");
        // A throwaway cluster: no durability, little memory.
        write!(
            conf,
            "\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             shared_buffers = 16MB\nmax_connections = 40\n",
            server.dir.path().display()
        )
        .expect("write postgresql.conf");
        // A port free a moment ago may be taken before the server binds it: try a few.
        let log = server.dir.path().join("server.log");
        let mut failures = Vec::new();
        for _ in 0..5 {
            let port = free_port();
            let output = server
                .command("pg_ctl")
                .args(["-D".as_ref(), data.as_os_str()])
                .args([
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-o".as_ref(),
                    format!("-p {port}").as_ref(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "60".as_ref(),
                    "start".as_ref(),
                ])
                .output()
                .expect("run pg_ctl start");
            if output.status.success() {
                server.port = port;
                return server;
            }
            failures.push(format!(
                "{}\n{}",
                describe(&output),
                fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        panic!("PostgreSQL did not start:\n{}", failures.join("\n---\n"));
    }

    /// The TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL of database `db` as the superuser `postgres` (trusted: no password).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// A connection as the superuser, to do what the tests do behind the store's back.
    pub async fn superuser(&self) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .expect("connect as the superuser");
        tokio::spawn(connection);
        client
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A command running the server binary `program`, as the `postgres` user when root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        // The postgres user may not enter the test's working directory.
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        command
    }

    /// Runs `program` with `args` and panics with its output if it fails.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) {
        let output = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("cannot run {program}: {err}"));
        assert!(
            output.status.success(),
            "{program} failed: {}",
            describe(&output)
        );
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = self.data();
            let _ = self
                .command("pg_ctl")
                .args(["-D".as_ref(), data.as_os_str()])
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // `dir` is removed as it drops.
    }
}

/// The newest installed version's server binaries; fails (never skips) when there are none.
fn server_binaries() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(POSTGRESQL_LIB)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server binaries (initdb, pg_ctl) under {POSTGRESQL_LIB}/<version>/bin: \
             these tests run a real server; scripts/test.sh installs Debian's `postgresql` \
             package (apt-get install postgresql)"
        ),
    }
}

/// The `postgres` user's uid (`-u`) or gid (`-g`).
fn id_of(flag: &str) -> u32 {
    let output = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .expect("run id");
    assert!(
        output.status.success(),
        "no `postgres` user to run the server as (root may not): Debian's `postgresql` package \
         creates it, and scripts/test.sh installs that: {}",
        describe(&output)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("a numeric id")
}

/// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn describe(output: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
