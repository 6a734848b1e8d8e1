//! `negsync`: sync two directories over iroh QUIC.
//!
//! ```text
//! negsync serve --dir DIR [--listen IP:PORT] [--key FILE] [--allow ID]... [--allow-read ID]...
//!               [--allow-file FILE]... [--open] [limits]
//! negsync sync  --dir DIR --peer ID@IP:PORT [--key FILE] [--retries N] [limits]
//! negsync id    --key FILE
//! ```

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use negsync::ItemSet;
use negsync::net::{
    self, Access, Busy, Config, DirStore, EndpointAddr, EndpointId, NotAllowed, Permission, Phase,
    Progress, SecretKey, SessionReport, SyncStats, escape,
};

const USAGE: &str = "\
negsync: sync two directories over iroh QUIC (Negentropy set reconciliation)

usage:
  negsync serve --dir DIR [--listen IP:PORT] [--key FILE] [--allow ID]... [--allow-read ID]...
                [--allow-file FILE]... [--open] [limits]
      Serve DIR: print this node's endpoint ID and address, then answer syncs until stopped.
      Only the endpoints allowed may sync; every other one is refused, and its ID printed.
      --listen IP:PORT    where to listen (default 127.0.0.1:0, any free port; 0.0.0.0:PORT
                          for other hosts)
      --key FILE          keep the endpoint's secret key in FILE (created if missing), so its
                          endpoint ID stays the same across restarts
      --allow ID          let endpoint ID read and write (repeatable)
      --allow-read ID     let endpoint ID read only: it gets files, but may not send any
      --allow-file FILE   one endpoint ID a line, `ID` (read-write) or `ID read` (read-only);
                          `#` starts a comment
      --open              let ANY endpoint that reaches the address read and write
      --max-sessions N    sessions at once (default 16)

  negsync sync --dir DIR --peer ID@IP:PORT [--key FILE] [--retries N] [limits]
      Sync DIR with the node that `negsync serve` started: both end with every file of both.
      --key FILE          as for serve: a stable endpoint ID, which the server can allow
      --retries N         when the server is busy, try again up to N times, waiting longer each
                          time (default 5)

  negsync id --key FILE
      Print the endpoint ID of the key in FILE (created if missing): what to --allow.

limits (both sides):
  --frame-limit BYTES     the largest frame this side sends or accepts, 4096 to 16777216
                          (default 1048576); the smaller of the two sides' limits is used
  --timeout SECONDS       give up connecting, or waiting for the peer, after this long
                          (default 10 to connect, 30 per round)
  --deadline SECONDS      the longest a whole sync may take (default 600)
  --min-rate BYTES        the least bytes per second a sync must move after its first 10 s
                          (default 16384; 0: none)
  --max-size BYTES        the largest file taken from the peer (default 67108864); the peer
                          is told, and sends none larger
  --max-docs N            the most files taken from the peer in one sync (default 100000)
  --max-bytes BYTES       the most bytes taken from the peer in one sync (default 1073741824)
  --max-skew SECONDS      how far in the future a file's time, or the peer's clock, may be
                          (default 86400); a file beyond it is refused

A file's ID is SHA-256 over its relative path and the SHA-256 of its contents, its timestamp its
modification time. Received files are written atomically and keep the sender's modification
time. When both sides changed a file, the later one wins, unless its time is beyond
--max-skew. Deletions are not synced.
";

#[derive(Debug, Default)]
struct Args {
    command: String,
    dir: Option<PathBuf>,
    peer: Option<EndpointAddr>,
    listen: Option<SocketAddr>,
    key: Option<PathBuf>,
    allow: Vec<(EndpointId, Permission)>,
    allow_files: Vec<PathBuf>,
    open: bool,
    retries: Option<u32>,
    frame_limit: Option<u32>,
    timeout: Option<f64>,
    deadline: Option<f64>,
    min_rate: Option<u64>,
    max_size: Option<u64>,
    max_docs: Option<u64>,
    max_bytes: Option<u64>,
    max_skew: Option<u64>,
    max_sessions: Option<usize>,
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T> {
    text.parse()
        .map_err(|_| anyhow!("{flag} {text:?}: expected a whole number"))
}

fn seconds(flag: &str, text: &str) -> Result<f64> {
    text.parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s < 1e9)
        .with_context(|| format!("{flag} {text:?}: expected seconds"))
}

fn endpoint_id(flag: &str, text: &str) -> Result<EndpointId> {
    text.trim().parse().map_err(|error| {
        anyhow!(
            "{flag} {:?}: not an endpoint ID ({error}); `negsync id --key FILE` prints one",
            escape(text)
        )
    })
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args> {
    let mut parsed = Args {
        command: args.next().context("missing command: serve, sync or id")?,
        ..Args::default()
    };
    if !matches!(parsed.command.as_str(), "serve" | "sync" | "id") {
        bail!("unknown command {:?}: serve, sync or id", parsed.command);
    }
    let mut serve_only = Vec::new();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--dir" => parsed.dir = Some(value()?.into()),
            "--peer" => parsed.peer = Some(parse_peer(&value()?)?),
            "--listen" => {
                let text = value()?;
                parsed.listen = Some(
                    text.parse()
                        .with_context(|| format!("--listen {text:?}: expected IP:PORT"))?,
                );
            }
            "--key" => parsed.key = Some(value()?.into()),
            "--allow" => {
                let id = endpoint_id(&flag, &value()?)?;
                parsed.allow.push((id, Permission::ReadWrite));
            }
            "--allow-read" => {
                let id = endpoint_id(&flag, &value()?)?;
                parsed.allow.push((id, Permission::Read));
            }
            "--allow-file" => parsed.allow_files.push(value()?.into()),
            "--open" => parsed.open = true,
            "--retries" => parsed.retries = Some(number(&flag, &value()?)?),
            "--frame-limit" => parsed.frame_limit = Some(number(&flag, &value()?)?),
            "--timeout" => parsed.timeout = Some(seconds(&flag, &value()?)?),
            "--deadline" => parsed.deadline = Some(seconds(&flag, &value()?)?),
            "--min-rate" => parsed.min_rate = Some(number(&flag, &value()?)?),
            "--max-size" => parsed.max_size = Some(number(&flag, &value()?)?),
            "--max-docs" => parsed.max_docs = Some(number(&flag, &value()?)?),
            "--max-bytes" => parsed.max_bytes = Some(number(&flag, &value()?)?),
            "--max-skew" => parsed.max_skew = Some(number(&flag, &value()?)?),
            "--max-sessions" => parsed.max_sessions = Some(number(&flag, &value()?)?),
            _ => bail!("unknown option {:?}", escape(&flag)),
        }
        if matches!(
            flag.as_str(),
            "--listen" | "--allow" | "--allow-read" | "--allow-file" | "--open" | "--max-sessions"
        ) {
            serve_only.push(flag);
        }
    }
    match parsed.command.as_str() {
        "id" => {
            if parsed.key.is_none() {
                bail!("id needs --key FILE");
            }
            return Ok(parsed);
        }
        _ if parsed.dir.is_none() => bail!("{} needs --dir DIR", parsed.command),
        "sync" if parsed.peer.is_none() => bail!("sync needs --peer ID@IP:PORT"),
        "sync" if !serve_only.is_empty() => bail!("{} is for serve", serve_only[0]),
        "serve" if parsed.peer.is_some() || parsed.retries.is_some() => {
            bail!("--peer and --retries are for sync")
        }
        _ => {}
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty()
        || args
            .iter()
            .any(|a| a == "--help" || a == "-h" || a == "help")
    {
        print!("{USAGE}");
        return if args.is_empty() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("negsync {}", negsync::VERSION);
        return ExitCode::SUCCESS;
    }
    let args = match parse_args(args.into_iter()) {
        Ok(args) => args,
        Err(error) => {
            eprintln!(
                "negsync: {}\n(see negsync --help)",
                escape(&format!("{error:#}"))
            );
            return ExitCode::from(2);
        }
    };
    if args.command == "id" {
        return match load_or_create_key(args.key.as_deref().expect("checked")) {
            Ok(key) => {
                println!("{}", key.public());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("negsync: error: {}", escape(&format!("{error:#}")));
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("negsync: error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.command.as_str() {
            "serve" => serve(&args).await,
            _ => sync(&args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("negsync: error: {}", escape(&format!("{error:#}")));
            ExitCode::FAILURE
        }
    }
}

fn config(args: &Args) -> Result<Config> {
    let mut config = Config::default();
    if let Some(limit) = args.frame_limit {
        config.frame_limit = limit;
    }
    if let Some(seconds) = args.timeout {
        config.connect_timeout = Duration::from_secs_f64(seconds);
        config.round_timeout = Duration::from_secs_f64(seconds);
    }
    if let Some(seconds) = args.deadline {
        config.session_deadline = Duration::from_secs_f64(seconds);
    }
    if let Some(rate) = args.min_rate {
        config.min_rate = rate;
    }
    if let Some(size) = args.max_size {
        config.max_document_size = size;
    }
    if let Some(docs) = args.max_docs {
        config.max_docs_per_sync = docs;
    }
    if let Some(bytes) = args.max_bytes {
        config.max_bytes_per_sync = bytes;
    }
    if let Some(skew) = args.max_skew {
        config.max_clock_skew = Duration::from_secs(skew);
    }
    if let Some(sessions) = args.max_sessions {
        config.max_sessions = sessions;
    }
    let mut access = if args.open {
        Access::open()
    } else {
        Access::closed()
    };
    for file in &args.allow_files {
        for (id, permission) in read_allow_file(file)? {
            access = access.allow(id, permission);
        }
    }
    for (id, permission) in &args.allow {
        access = access.allow(*id, *permission);
    }
    config.access = access;
    Ok(config)
}

/// The entries of an allow file: `ID` or `ID read` a line, `#` comments.
fn read_allow_file(path: &Path) -> Result<Vec<(EndpointId, Permission)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the allow file {}", path.display()))?;
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), n + 1);
        let mut words = line.split_whitespace();
        let id = endpoint_id(&at, words.next().expect("a word"))?;
        let permission = match words.next() {
            None | Some("write") | Some("read-write") => Permission::ReadWrite,
            Some("read") | Some("read-only") => Permission::Read,
            Some(other) => bail!("{at}: {:?}: expected `read` or nothing", escape(other)),
        };
        if let Some(extra) = words.next() {
            bail!("{at}: unexpected {:?}", escape(extra));
        }
        entries.push((id, permission));
    }
    Ok(entries)
}

fn open(dir: &Path) -> Result<(DirStore, ItemSet)> {
    let store = DirStore::open(dir)?;
    let set = ItemSet::new();
    store
        .scan(&set)
        .with_context(|| format!("reading {}", dir.display()))?;
    for why in store.skipped() {
        eprintln!("negsync: warning: {}", escape(&why));
    }
    Ok((store, set))
}

async fn serve(args: &Args) -> Result<ExitCode> {
    let dir = args.dir.as_deref().expect("checked");
    let config = config(args)?;
    let (store, set) = open(dir)?;
    let key = args.key.as_deref().map(load_or_create_key).transpose()?;
    let listen = args
        .listen
        .unwrap_or_else(|| "127.0.0.1:0".parse().expect("a socket address"));
    let endpoint = net::bind(listen, key).await?;
    let id = endpoint.id();
    let addrs: Vec<SocketAddr> = net::addr(&endpoint).ip_addrs().copied().collect();
    let shown = addrs
        .iter()
        .map(|addr| {
            if addr.ip().is_unspecified() {
                format!("<this host's IP>:{}", addr.port())
            } else {
                addr.to_string()
            }
        })
        .collect::<Vec<_>>();
    println!(
        "negsync serve: {} in {}",
        documents(store.len() as u64),
        dir.display()
    );
    println!("endpoint id: {id}");
    println!("listening:   {}", shown.join(", "));
    let (writers, readers) = config
        .access
        .peers()
        .fold((0, 0), |(w, r), (_, permission)| match permission {
            Permission::ReadWrite => (w + 1, r),
            Permission::Read => (w, r + 1),
        });
    if config.access.is_open() {
        let warning = format!(
            "WARNING: --open: ANY endpoint that reaches {} may read every file in {} and write \
             new ones",
            shown.join(", "),
            dir.display()
        );
        println!("{warning}");
        eprintln!("negsync: {warning}");
    } else if writers + readers == 0 {
        println!(
            "allowed:     nobody yet: every sync is refused (add --allow ID; a client's ID is \
             what `negsync id --key FILE` prints)"
        );
    } else {
        println!("allowed:     {writers} read-write, {readers} read-only");
    }
    for addr in &shown {
        println!("to sync:     negsync sync --dir DIR --peer {id}@{addr}");
    }
    std::io::stdout().flush()?;

    let stopper = endpoint.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.close().await;
        }
    });
    net::serve(
        endpoint,
        Arc::new(set),
        Arc::new(store),
        config,
        |report: SessionReport| {
            let who = report.remote.map_or_else(
                || "an unknown peer".to_string(),
                |id| id.fmt_short().to_string(),
            );
            let line = match report.result {
                Ok(stats) => {
                    let mut line = format!("synced with {who}: {}", one_line(&stats));
                    for problem in &stats.problems {
                        line.push_str(&format!("\n  {}", escape(problem)));
                    }
                    line
                }
                Err(error) if error.downcast_ref::<NotAllowed>().is_some() => {
                    escape(&error.to_string())
                }
                Err(error) => format!("sync with {who} failed: {}", escape(&format!("{error:#}"))),
            };
            println!("{line}");
            let _ = std::io::stdout().flush();
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

async fn sync(args: &Args) -> Result<ExitCode> {
    let dir = args.dir.as_deref().expect("checked");
    let peer = args.peer.clone().expect("checked");
    let config = config(args)?;
    let (store, set) = open(dir)?;
    let key = args.key.as_deref().map(load_or_create_key).transpose()?;
    let at = peer.ip_addrs().next().copied().expect("one address");
    println!(
        "syncing {} ({}) with {} at {at}",
        dir.display(),
        documents(store.len() as u64),
        peer.id
    );
    // Bind where the peer can be reached from: loopback for a loopback peer.
    let local: SocketAddr = if at.ip().is_loopback() {
        (at.ip(), 0).into()
    } else if at.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let endpoint = net::bind(local, key).await?;
    let retries = args.retries.unwrap_or(5);
    let mut attempt = 0;
    let result = loop {
        let progress = Arc::new(Progress::new());
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| tokio::spawn(draw_progress(progress.clone())));
        let result = net::sync(&endpoint, peer.clone(), &set, &store, &config, &progress).await;
        if let Some(bar) = bar {
            bar.abort();
            eprint!("\r\x1b[K");
        }
        let busy = result
            .as_ref()
            .err()
            .and_then(|error| error.chain().find_map(|e| e.downcast_ref::<Busy>()));
        match busy {
            Some(busy) if attempt < retries => {
                attempt += 1;
                let wait = backoff(busy.retry_after, attempt);
                eprintln!(
                    "negsync: {}; retrying in {:.1} s (retry {attempt} of {retries})",
                    busy,
                    wait.as_secs_f64()
                );
                tokio::time::sleep(wait).await;
            }
            _ => break result,
        }
    };
    // A clean close lets the peer know at once; after a failure there may be nothing to close,
    // and iroh would wait up to 3 s for it.
    if result.is_ok() {
        endpoint.close().await;
    } else {
        let _ = tokio::time::timeout(Duration::from_millis(300), endpoint.close()).await;
    }
    let stats = result?;
    print_summary(&stats);
    if stats.refused > 0 || stats.peer_refused.unwrap_or(0) > 0 {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The wait before retry number `attempt` (from 1): the peer's delay doubled each time, at most
/// a minute, plus up to half again at random so that refused clients do not return together.
fn backoff(retry_after: Duration, attempt: u32) -> Duration {
    let base = retry_after
        .saturating_mul(1 << (attempt - 1).min(10))
        .min(Duration::from_secs(60));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let jitter = (nanos ^ std::process::id().wrapping_mul(2_654_435_761)) % 1000;
    base + base.mul_f64(jitter as f64 / 2000.0)
}

fn parse_peer(text: &str) -> Result<EndpointAddr> {
    let help = "--peer must be ID@IP:PORT, as `negsync serve` prints it";
    let (id, addr) = text
        .split_once('@')
        .with_context(|| format!("{help}: no @ in {:?}", escape(text)))?;
    let id: EndpointId = id
        .parse()
        .map_err(|error| anyhow!("{help}: {:?} is not an endpoint ID ({error})", escape(id)))?;
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("{help}: {:?} is not IP:PORT", escape(addr)))?;
    if addr.ip().is_unspecified() || addr.port() == 0 {
        bail!("{help}: {addr} is not an address to dial (use the serving host's IP and port)");
    }
    Ok(EndpointAddr::new(id).with_ip_addr(addr))
}

fn load_or_create_key(path: &Path) -> Result<SecretKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|error| anyhow!("{}: not a secret key ({error})", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate();
            let hex: String = key.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(path)
                .with_context(|| format!("creating {}", path.display()))?;
            writeln!(file, "{hex}").with_context(|| format!("writing {}", path.display()))?;
            Ok(key)
        }
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

async fn draw_progress(progress: Arc<Progress>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let line = match progress.phase() {
            Phase::Connecting => "connecting...".to_string(),
            Phase::Reconciling => format!("reconciling: {} round trips", progress.rounds()),
            Phase::Transferring | Phase::Done => {
                let total = progress.docs_to_send() + progress.docs_to_receive();
                let done = progress.docs_sent() + progress.docs_received();
                let fraction = if total == 0 {
                    1.0
                } else {
                    done as f64 / total as f64
                };
                let filled = (fraction * 30.0).round() as usize;
                format!(
                    "[{}{}] {:3.0}%  sent {}/{} ({})  received {}/{} ({})",
                    "#".repeat(filled),
                    "-".repeat(30 - filled.min(30)),
                    fraction * 100.0,
                    progress.docs_sent(),
                    progress.docs_to_send(),
                    bytes(progress.bytes_sent()),
                    progress.docs_received(),
                    progress.docs_to_receive(),
                    bytes(progress.bytes_received()),
                )
            }
        };
        eprint!("\r\x1b[K{line}");
        let _ = std::io::stderr().flush();
    }
}

fn print_summary(stats: &SyncStats) {
    println!(
        "done in {}: {} ({} reconciliation traffic)",
        duration(stats.elapsed),
        plural(stats.rounds, "round trip"),
        bytes(stats.reconcile_bytes_sent + stats.reconcile_bytes_received)
    );
    println!(
        "  sent      {}, {}",
        documents(stats.docs_sent),
        bytes(stats.bytes_sent)
    );
    println!(
        "  received  {}, {}",
        documents(stats.docs_received),
        bytes(stats.bytes_received)
    );
    if stats.kept > 0 {
        println!(
            "  kept      {} (this side's version is newer)",
            documents(stats.kept)
        );
    }
    if stats.missing > 0 {
        println!(
            "  missing   {} (changed on the peer during the sync)",
            documents(stats.missing)
        );
    }
    if stats.refused > 0 {
        println!("  refused   {}:", documents(stats.refused));
        for problem in &stats.problems {
            println!("    {}", escape(problem));
        }
    }
    if let Some(refused) = stats.peer_refused.filter(|&n| n > 0) {
        println!("  the peer refused {} (see its output)", documents(refused));
    }
    if stats.nothing_transferred() {
        println!("  already in sync");
    }
}

fn one_line(stats: &SyncStats) -> String {
    format!(
        "received {} ({}), sent {} ({}), {}, {}{}",
        documents(stats.docs_received),
        bytes(stats.bytes_received),
        documents(stats.docs_sent),
        bytes(stats.bytes_sent),
        plural(stats.rounds, "round trip"),
        duration(stats.elapsed),
        if stats.refused > 0 {
            format!(", refused {}", documents(stats.refused))
        } else {
            String::new()
        }
    )
}

fn duration(time: Duration) -> String {
    if time < Duration::from_secs(1) {
        format!("{:.1} ms", time.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", time.as_secs_f64())
    }
}

fn documents(n: u64) -> String {
    plural(n, "document")
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
