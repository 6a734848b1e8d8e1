//! Two `negsync` processes syncing two directories of 10,000 small files: over loopback, and
//! (as root, with `ip`) between two network namespaces joined by a veth pair.
//! Runs with `--features iroh` (`make net-tests`).
#![cfg(feature = "iroh")]

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "common/process.rs"]
mod process;
use process::{Server, TempDir};

const NEGSYNC: &str = env!("CARGO_BIN_EXE_negsync");

fn write_file(root: &Path, key: &str, contents: &[u8], mtime: u64) {
    let path = root.join(key);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = File::create(&path).unwrap();
    file.write_all(contents).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
        .unwrap();
}

/// Two directories of 10,001 small files each: 7,000 the same on both sides, 3,000 only on
/// each, and one file changed on both sides (the later version must win on both).
fn make_dirs(a: &Path, b: &Path) {
    for n in 0..13_000u64 {
        let key = format!("d{:02}/file-{n:05}.txt", n % 50);
        let contents = format!("file {n}\n{}", "x".repeat((n % 200) as usize));
        let mtime = 1_600_000_000 + n * 11;
        if n < 10_000 {
            write_file(a, &key, contents.as_bytes(), mtime);
        }
        if n >= 3_000 {
            write_file(b, &key, contents.as_bytes(), mtime);
        }
    }
    write_file(a, "both/changed.txt", b"old version", 1_700_000_000);
    write_file(b, "both/changed.txt", b"new version", 1_700_000_100);
}

/// The number on the summary line that starts with `label` (0 when there is no such line).
fn number(stdout: &str, label: &str) -> u64 {
    stdout
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .map_or(0, |n| n.parse().unwrap())
}

/// Every file under `root`: relative path to (contents, modification time in seconds).
fn tree(root: &Path) -> BTreeMap<String, (Vec<u8>, u64)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, u64)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let key = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let mtime = fs::metadata(&path)
                    .unwrap()
                    .modified()
                    .unwrap()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                out.insert(key, (fs::read(&path).unwrap(), mtime));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// `command`, a `negsync serve`, running with its output shown in the test's log.
fn echoed_server(command: Command) -> Server {
    Server::start(command, true)
}

fn run(mut command: Command) -> Output {
    let output = command.output().expect("running negsync");
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        println!("sync  | {line}");
    }
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        println!("sync! | {line}");
    }
    output
}

/// Syncs `b` with the server serving `a` (twice), checks both end with the same files, and
/// that the second sync finds nothing to do. `wrap` runs a command where it must run.
fn sync_twice(server: &Server, a: &Path, b: &Path, wrap: &dyn Fn(&[&str]) -> Command) {
    let before = (tree(a).len(), tree(b).len());
    assert_eq!(before, (10_001, 10_001));
    let started = Instant::now();
    let output = run(wrap(&[
        "sync",
        "--dir",
        b.to_str().unwrap(),
        "--peer",
        &server.peer,
    ]));
    let took = started.elapsed();
    assert!(output.status.success(), "negsync sync failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // 3,000 files and this side's version of the changed one go each way. The server's version
    // goes out unless the server stored ours first: then it reports it missing. When it does
    // arrive, we keep ours (it is newer).
    let (sent, received) = (number(&stdout, "sent"), number(&stdout, "received"));
    assert_eq!(sent, 3001, "{stdout}");
    assert_eq!(received + number(&stdout, "missing"), 3001, "{stdout}");
    assert_eq!(number(&stdout, "kept"), received - 3000, "{stdout}");
    server.wait_for("synced with");
    println!(
        "10,001 files a side, 6,002 to move: {:.2} s",
        took.as_secs_f64()
    );

    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(ta.len(), 13_001);
    assert!(
        ta == tb,
        "both directories hold the same files, contents and times"
    );
    assert_eq!(ta["both/changed.txt"].0, b"new version");
    let leftovers = ta.keys().filter(|k| k.contains(".negsync-")).count();
    assert_eq!(leftovers, 0, "no temporary file is left behind");

    let output = run(wrap(&[
        "sync",
        "--dir",
        b.to_str().unwrap(),
        "--peer",
        &server.peer,
    ]));
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("already in sync"), "{stdout}");
    assert!(stdout.contains("1 round trip "), "{stdout}");
    server.wait_for("synced with");
}

fn plain(args: &[&str]) -> Command {
    let mut command = Command::new(NEGSYNC);
    command.args(args);
    command
}

/// `negsync serve --dir DIR --allow ID`: a server only the endpoint `id` may sync with.
fn serve_allowing(dir: &Path, id: &str) -> Server {
    echoed_server(plain(&[
        "serve",
        "--dir",
        dir.to_str().unwrap(),
        "--allow",
        id,
    ]))
}

#[test]
fn two_processes_sync_10000_files_on_loopback() {
    let (a, b) = (TempDir::new("cli", "loop-a"), TempDir::new("cli", "loop-b"));
    make_dirs(&a.0, &b.0);
    let key = TempDir::new("cli", "loop-key");
    let key = key.0.join("client.key");
    let client = client_id(&key);
    let server = serve_allowing(&a.0, &client);
    assert!(server.peer.contains("@127.0.0.1:"), "{}", server.peer);
    let key = key.to_str().unwrap().to_string();
    sync_twice(&server, &a.0, &b.0, &|args| {
        let mut command = plain(args);
        command.args(["--key", &key]);
        command
    });
}

/// The endpoint ID of the key in `path` (created), as `negsync id` prints it.
fn client_id(path: &Path) -> String {
    let output = run(plain(&["id", "--key", path.to_str().unwrap()]));
    assert!(output.status.success());
    let id = String::from_utf8(output.stdout).unwrap().trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    // The same key gives the same ID.
    let again = run(plain(&["id", "--key", path.to_str().unwrap()]));
    assert_eq!(String::from_utf8(again.stdout).unwrap().trim(), id);
    id
}

#[test]
fn clear_messages_for_bad_peers() {
    let dir = TempDir::new("cli", "errors");
    let server = echoed_server(plain(&[
        "serve",
        "--dir",
        dir.0.to_str().unwrap(),
        "--open",
    ]));
    let (id, addr) = server.peer.split_once('@').unwrap();
    let dir = dir.0.to_str().unwrap();

    let other_id = "0".repeat(63) + "1";
    let wrong = format!("{other_id}@{addr}");
    let output = run(plain(&["sync", "--dir", dir, "--peer", &wrong]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    // Either the ID is not a key at all, or it is someone else's.
    assert!(
        stderr.contains("not an endpoint ID") || stderr.contains("wrong endpoint ID"),
        "{stderr}"
    );
    let stranger = [
        "sync",
        "--dir",
        dir,
        "--peer",
        &format!("3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29@{addr}"),
    ];
    let output = run(plain(&stranger));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("wrong endpoint ID"), "{stderr}");

    let nobody = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let unreachable = format!("{id}@{}", nobody.local_addr().unwrap());
    let started = Instant::now();
    let output = run(plain(&[
        "sync",
        "--dir",
        dir,
        "--peer",
        &unreachable,
        "--timeout",
        "2",
    ]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach peer"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(8));

    let output = run(plain(&["sync", "--dir", dir, "--peer", "nonsense"]));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("ID@IP:PORT"));
}

/// Two network namespaces joined by a veth pair, removed when dropped (also on failure).
struct Namespaces {
    names: [String; 2],
}

impl Namespaces {
    const ADDRS: [&str; 2] = ["10.77.0.1", "10.77.0.2"];

    fn create() -> Result<Namespaces, String> {
        let tag = std::process::id() % 100_000;
        let namespaces = Namespaces {
            names: [format!("negsync-a-{tag}"), format!("negsync-b-{tag}")],
        };
        let [a, b] = &namespaces.names;
        let (veth_a, veth_b) = (format!("nsv{tag}a"), format!("nsv{tag}b"));
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", a],
            vec!["netns", "add", b],
            vec![
                "link", "add", &veth_a, "netns", a, "type", "veth", "peer", "name", &veth_b,
                "netns", b,
            ],
            vec!["-n", a, "addr", "add", "10.77.0.1/24", "dev", &veth_a],
            vec!["-n", b, "addr", "add", "10.77.0.2/24", "dev", &veth_b],
            vec!["-n", a, "link", "set", &veth_a, "up"],
            vec!["-n", b, "link", "set", &veth_b, "up"],
            vec!["-n", a, "link", "set", "lo", "up"],
            vec!["-n", b, "link", "set", "lo", "up"],
        ];
        for step in steps {
            let output = Command::new("ip")
                .args(&step)
                .output()
                .map_err(|e| format!("ip {}: {e}", step.join(" ")))?;
            if !output.status.success() {
                return Err(format!(
                    "ip {}: {}",
                    step.join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
        }
        Ok(namespaces)
    }

    fn exec(&self, which: usize, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.names[which], NEGSYNC])
            .args(args);
        command
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the veth pair, and so the pair.
        for name in &self.names {
            let _ = Command::new("ip")
                .args(["netns", "del", name])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

#[test]
fn two_processes_sync_10000_files_between_network_namespaces() {
    let skip = |why: &str| {
        println!("SKIPPED two_processes_sync_10000_files_between_network_namespaces: {why}");
    };
    if !is_root() {
        return skip("needs root (to create network namespaces)");
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return skip("needs the `ip` command (iproute2)");
    }
    let namespaces = match Namespaces::create() {
        Ok(namespaces) => namespaces,
        Err(why) => return skip(&format!("cannot set up network namespaces: {why}")),
    };
    let (a, b) = (
        TempDir::new("cli", "netns-a"),
        TempDir::new("cli", "netns-b"),
    );
    make_dirs(&a.0, &b.0);
    let listen = format!("{}:0", Namespaces::ADDRS[0]);
    let key = TempDir::new("cli", "netns-key");
    let key = key.0.join("client.key");
    let client = client_id(&key);
    let server = echoed_server(namespaces.exec(
        0,
        &[
            "serve",
            "--dir",
            a.0.to_str().unwrap(),
            "--listen",
            &listen,
            "--allow",
            &client,
        ],
    ));
    assert!(server.peer.contains("@10.77.0.1:"), "{}", server.peer);
    let started = SystemTime::now();
    let key = key.to_str().unwrap().to_string();
    sync_twice(&server, &a.0, &b.0, &|args| {
        let mut command = namespaces.exec(1, args);
        command.args(["--key", &key]);
        command
    });
    println!(
        "between namespaces {} and {}: {:.2} s in all",
        Namespaces::ADDRS[0],
        Namespaces::ADDRS[1],
        started.elapsed().unwrap().as_secs_f64()
    );
    drop(server);
    drop(namespaces);
}

#[test]
fn serve_refuses_unknown_endpoints_by_id_and_an_allow_file_can_make_a_peer_read_only() {
    let (a, b, keys) = (
        TempDir::new("cli", "allow-a"),
        TempDir::new("cli", "allow-b"),
        TempDir::new("cli", "allow-keys"),
    );
    write_file(&a.0, "shared.txt", b"from a", 1_700_000_000);
    write_file(&b.0, "mine.txt", b"from b", 1_700_000_000);
    let (reader_key, stranger_key) = (keys.0.join("reader.key"), keys.0.join("stranger.key"));
    let (reader, stranger) = (client_id(&reader_key), client_id(&stranger_key));
    let allow_file = keys.0.join("allowed.txt");
    fs::write(
        &allow_file,
        format!("# who may sync\n{reader} read   # the laptop\n"),
    )
    .unwrap();
    let server = echoed_server(plain(&[
        "serve",
        "--dir",
        a.0.to_str().unwrap(),
        "--allow-file",
        allow_file.to_str().unwrap(),
    ]));
    let sync_as = |key: &Path| {
        run(plain(&[
            "sync",
            "--dir",
            b.0.to_str().unwrap(),
            "--peer",
            &server.peer,
            "--key",
            key.to_str().unwrap(),
        ]))
    };
    let output = sync_as(&stranger_key);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not allow this endpoint"), "{stderr}");
    let line = server.wait_for("refused endpoint");
    assert!(line.contains(&format!("--allow {stranger}")), "{line}");

    let output = sync_as(&reader_key);
    assert!(output.status.success());
    server.wait_for("synced with");
    assert_eq!(fs::read(b.0.join("shared.txt")).unwrap(), b"from a");
    assert!(
        !a.0.join("mine.txt").exists(),
        "a read-only peer writes nothing"
    );
}

#[test]
fn serve_says_loudly_that_it_is_open() {
    let (closed, open) = (TempDir::new("cli", "closed"), TempDir::new("cli", "open"));
    let start = |dir: &Path, extra: &[&str]| {
        let mut command = plain(&["serve", "--dir", dir.to_str().unwrap()]);
        command.args(extra);
        let server = echoed_server(command);
        server.banner.join("\n")
    };
    let banner = start(&open.0, &["--open"]);
    assert!(banner.contains("WARNING: --open: ANY endpoint"), "{banner}");
    let banner = start(&closed.0, &[]);
    assert!(!banner.contains("WARNING"), "{banner}");
    assert!(
        banner.contains("nobody yet: every sync is refused"),
        "{banner}"
    );
}

#[test]
fn sync_retries_with_backoff_while_the_server_is_busy() {
    let (a, b, keys) = (
        TempDir::new("cli", "busy-a"),
        TempDir::new("cli", "busy-b"),
        TempDir::new("cli", "busy-keys"),
    );
    let key = keys.0.join("client.key");
    let id = client_id(&key);
    let server = serve_allowing(&a.0, &id);
    // A session of the same endpoint that says hello and then holds on: the server allows one
    // session per endpoint, so `negsync sync` with that key is told to come back later.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let secret: negsync::net::SecretKey = fs::read_to_string(&key).unwrap().trim().parse().unwrap();
    let (peer_id, addr) = server.peer.split_once('@').unwrap();
    let peer = negsync::net::EndpointAddr::new(peer_id.parse().unwrap())
        .with_ip_addr(addr.parse().unwrap());
    let _held = runtime.block_on(async {
        let endpoint = negsync::net::bind("127.0.0.1:0".parse().unwrap(), Some(secret))
            .await
            .unwrap();
        let connection = endpoint.connect(peer, negsync::net::ALPN).await.unwrap();
        let (mut send, mut recv) = connection.open_bi().await.unwrap();
        let mut hello = 6u32.to_be_bytes().to_vec();
        hello.extend_from_slice(&[1, negsync::net::PROTOCOL_VERSION, 0, 0, 16, 0]);
        send.write_all(&hello).await.unwrap();
        let mut prefix = [0u8; 4];
        recv.read_exact(&mut prefix).await.unwrap();
        (endpoint, connection, send, recv)
    });
    let output = run(plain(&[
        "sync",
        "--dir",
        b.0.to_str().unwrap(),
        "--peer",
        &server.peer,
        "--key",
        key.to_str().unwrap(),
        "--retries",
        "2",
    ]));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("retry 1 of 2") && stderr.contains("retry 2 of 2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("has a session running here already"),
        "{stderr}"
    );
    drop(_held);
}
