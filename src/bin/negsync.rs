//! `negsync`: sync two directories over iroh QUIC.
//!
//! ```text
//! negsync serve --dir DIR [--listen IP:PORT] [--key FILE] [--frame-limit BYTES]
//! negsync sync  --dir DIR --peer ID@IP:PORT [--frame-limit BYTES] [--timeout SECONDS]
//! ```

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use negsync::ItemSet;
use negsync::net::{
    self, Config, DirStore, EndpointAddr, EndpointId, Phase, Progress, SecretKey, SessionReport,
    SyncStats,
};

const USAGE: &str = "\
negsync: sync two directories over iroh QUIC (Negentropy set reconciliation)

usage:
  negsync serve --dir DIR [--listen IP:PORT] [--key FILE] [--frame-limit BYTES]
      Serve DIR: print this node's endpoint ID and address, then answer syncs until stopped.
      --listen IP:PORT    where to listen (default 127.0.0.1:0, any free port; 0.0.0.0:PORT
                          for other hosts)
      --key FILE          keep the endpoint's secret key in FILE (created if missing), so its
                          endpoint ID stays the same across restarts

  negsync sync --dir DIR --peer ID@IP:PORT [--frame-limit BYTES] [--timeout SECONDS]
      Sync DIR with the node that `negsync serve` started: both end with every file of both.
      --timeout SECONDS   give up connecting, or waiting for the peer, after this long
                          (default 10 to connect, 30 per round)

  --frame-limit BYTES     the largest frame this side sends or accepts, 4096 to 16777216
                          (default 1048576); the smaller of the two sides' limits is used

A file's ID is SHA-256 over its relative path and the SHA-256 of its contents, its timestamp its
modification time. Received files are written atomically and keep the sender's modification
time. When both sides changed a file, the later one wins. Deletions are not synced.
";

#[derive(Debug, Default)]
struct Args {
    command: String,
    dir: Option<PathBuf>,
    peer: Option<EndpointAddr>,
    listen: Option<SocketAddr>,
    key: Option<PathBuf>,
    frame_limit: Option<u32>,
    timeout: Option<f64>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args> {
    let mut parsed = Args {
        command: args.next().context("missing command: serve or sync")?,
        ..Args::default()
    };
    if !matches!(parsed.command.as_str(), "serve" | "sync") {
        bail!("unknown command {:?}: serve or sync", parsed.command);
    }
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
            "--frame-limit" => {
                let text = value()?;
                parsed.frame_limit = Some(
                    text.parse()
                        .with_context(|| format!("--frame-limit {text:?}: expected bytes"))?,
                );
            }
            "--timeout" => {
                let text = value()?;
                let seconds: f64 = text
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .with_context(|| format!("--timeout {text:?}: expected seconds"))?;
                parsed.timeout = Some(seconds);
            }
            _ => bail!("unknown option {flag:?}"),
        }
    }
    if parsed.dir.is_none() {
        bail!("{} needs --dir DIR", parsed.command);
    }
    match parsed.command.as_str() {
        "sync" if parsed.peer.is_none() => bail!("sync needs --peer ID@IP:PORT"),
        "sync" if parsed.listen.is_some() || parsed.key.is_some() => {
            bail!("--listen and --key are for serve")
        }
        "serve" if parsed.peer.is_some() => bail!("--peer is for sync"),
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
            eprintln!("negsync: {error:#}\n(see negsync --help)");
            return ExitCode::from(2);
        }
    };
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
            eprintln!("negsync: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn config(args: &Args) -> Config {
    let mut config = Config::default();
    if let Some(limit) = args.frame_limit {
        config.frame_limit = limit;
    }
    if let Some(seconds) = args.timeout {
        config.connect_timeout = Duration::from_secs_f64(seconds);
        config.round_timeout = Duration::from_secs_f64(seconds);
    }
    config
}

fn open(dir: &Path) -> Result<(DirStore, ItemSet)> {
    let store = DirStore::open(dir)?;
    let set = ItemSet::new();
    store
        .scan(&set)
        .with_context(|| format!("reading {}", dir.display()))?;
    Ok((store, set))
}

async fn serve(args: &Args) -> Result<ExitCode> {
    let dir = args.dir.as_deref().expect("checked");
    let config = config(args);
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
            match report.result {
                Ok(stats) => {
                    println!("synced with {who}: {}", one_line(&stats));
                    for problem in &stats.problems {
                        println!("  {problem}");
                    }
                }
                Err(error) => println!("sync with {who} failed: {error:#}"),
            }
            let _ = std::io::stdout().flush();
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

async fn sync(args: &Args) -> Result<ExitCode> {
    let dir = args.dir.as_deref().expect("checked");
    let peer = args.peer.clone().expect("checked");
    let config = config(args);
    let (store, set) = open(dir)?;
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
    let endpoint = net::bind(local, None).await?;
    let progress = Arc::new(Progress::new());
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| tokio::spawn(draw_progress(progress.clone())));
    let result = net::sync(&endpoint, peer, &set, &store, &config, &progress).await;
    if let Some(bar) = bar {
        bar.abort();
        eprint!("\r\x1b[K");
    }
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

fn parse_peer(text: &str) -> Result<EndpointAddr> {
    let help = "--peer must be ID@IP:PORT, as `negsync serve` prints it";
    let (id, addr) = text
        .split_once('@')
        .with_context(|| format!("{help}: no @ in {text:?}"))?;
    let id: EndpointId = id
        .parse()
        .map_err(|error| anyhow!("{help}: {id:?} is not an endpoint ID ({error})"))?;
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("{help}: {addr:?} is not IP:PORT"))?;
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
            println!("    {problem}");
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
