//! The Redis simulator, checked with the real `redis-cli` and with edgepool's
//! own client and pool (faults, restart, passwords).
#![cfg(all(feature = "sim", feature = "redis"))]

use edgepool::redis::{Client, Config, Manager, Value};
use edgepool::sim::redis::RedisSim;
use edgepool::{Error, Phase, Pool};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// redis-cli

/// A child process killed on drop, also when the test panics.
struct Killed(Option<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `redis-cli -h 127.0.0.1 -p PORT args…` with `stdin`, for at most 5 s;
/// returns its stdout and stderr. Panics (with the package to install) when
/// redis-cli is missing: the test must not pass without it.
fn redis_cli(sim: &RedisSim, args: &[&str], stdin: &[u8]) -> (String, String) {
    let port = sim.addr().port().to_string();
    let child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "redis-cli not found: these tests need the real client, \
             install it with `apt-get install redis-tools`"
        ),
        Err(e) => panic!("cannot run redis-cli: {e}"),
    };
    let mut guard = Killed(Some(child));
    let c = guard.0.as_mut().expect("child");
    if let Some(mut input) = c.stdin.take() {
        input.write_all(stdin).expect("redis-cli stdin");
    }
    let end = Instant::now() + Duration::from_secs(5);
    while c.try_wait().expect("redis-cli wait").is_none() {
        assert!(
            Instant::now() < end,
            "redis-cli {args:?} still running after 5 s"
        );
        thread::sleep(Duration::from_millis(5));
    }
    let child = guard.0.take().expect("child");
    let Output { stdout, stderr, .. } = child.wait_with_output().expect("redis-cli output");
    (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// One command, `--no-raw` output (`(integer) 1`, `(nil)`, `(error) …`), trimmed.
fn cli(sim: &RedisSim, args: &[&str]) -> String {
    let mut all = vec!["--no-raw"];
    all.extend_from_slice(args);
    redis_cli(sim, &all, b"").0.trim_end().to_string()
}

#[test]
fn redis_cli_commands() {
    let sim = RedisSim::start().unwrap();
    assert_eq!(cli(&sim, &["PING"]), "PONG");
    assert_eq!(cli(&sim, &["PING", "hello"]), "\"hello\"");
    assert_eq!(cli(&sim, &["SET", "k", "v"]), "OK");
    assert_eq!(cli(&sim, &["GET", "k"]), "\"v\"");
    assert_eq!(cli(&sim, &["GET", "missing"]), "(nil)");
    assert_eq!(cli(&sim, &["INCR", "n"]), "(integer) 1");
    assert_eq!(cli(&sim, &["INCRBY", "n", "41"]), "(integer) 42");
    assert_eq!(cli(&sim, &["HSET", "h", "f", "1", "g", "2"]), "(integer) 2");
    assert_eq!(cli(&sim, &["HGET", "h", "g"]), "\"2\"");
    assert_eq!(
        cli(&sim, &["HGETALL", "h"]),
        "1) \"f\"\n2) \"1\"\n3) \"g\"\n4) \"2\""
    );
    assert_eq!(cli(&sim, &["TTL", "k"]), "(integer) -1");
    assert_eq!(cli(&sim, &["EXPIRE", "k", "100"]), "(integer) 1");
    assert_eq!(cli(&sim, &["TTL", "k"]), "(integer) 100");
    assert_eq!(cli(&sim, &["EXISTS", "k", "h", "nope"]), "(integer) 2");
    assert_eq!(cli(&sim, &["DEL", "k", "nope"]), "(integer) 1");
    assert_eq!(cli(&sim, &["EXISTS", "k"]), "(integer) 0");
    assert_eq!(cli(&sim, &["TTL", "k"]), "(integer) -2");
    // -n sends SELECT first.
    assert_eq!(cli(&sim, &["-n", "3", "SET", "x", "in-3"]), "OK");
    assert_eq!(cli(&sim, &["-n", "3", "GET", "x"]), "\"in-3\"");
    assert_eq!(cli(&sim, &["GET", "x"]), "(nil)");
    assert_eq!(cli(&sim, &["-n", "3", "DBSIZE"]), "(integer) 1");
    assert_eq!(
        cli(&sim, &["GET", "h"]),
        "(error) WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        cli(&sim, &["HGET", "n", "f"]),
        "(error) WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        cli(&sim, &["INCR", "h"]),
        "(error) WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        cli(&sim, &["GET"]),
        "(error) ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        cli(&sim, &["LPUSH", "l", "a"]),
        "(error) ERR unknown command 'LPUSH', with args beginning with: 'l' 'a'"
    );
    assert!(sim.commands() >= 25, "{}", sim.commands());
}

#[test]
fn redis_cli_stdin_and_pipe_modes() {
    let sim = RedisSim::start().unwrap();
    // Commands on stdin: redis-cli first asks for COMMAND DOCS (unknown here:
    // it copes) and prints raw replies.
    let (out, _) = redis_cli(&sim, &[], b"SET a 1\nINCR a\nGET a\nECHO \"two words\"\n");
    assert_eq!(out, "OK\n2\n2\ntwo words\n");
    // --pipe: inline commands written in one go, replies counted.
    let mut input = Vec::new();
    for i in 0..500 {
        input.extend_from_slice(format!("SET key:{i} {i}\r\n").as_bytes());
    }
    let (out, err) = redis_cli(&sim, &["--pipe"], &input);
    assert!(out.contains("errors: 0, replies: 500"), "{out}{err}");
    assert_eq!(cli(&sim, &["DBSIZE"]), "(integer) 501");
    assert_eq!(cli(&sim, &["GET", "key:499"]), "\"499\"");
}

#[test]
fn redis_cli_with_a_password() {
    let sim = RedisSim::with_password("hunter2").unwrap();
    assert_eq!(
        cli(&sim, &["PING"]),
        "(error) NOAUTH Authentication required."
    );
    let ok = ["-a", "hunter2", "--no-auth-warning"];
    assert_eq!(cli(&sim, &[&ok[..], &["SET", "k", "v"]].concat()), "OK");
    assert_eq!(cli(&sim, &[&ok[..], &["GET", "k"]].concat()), "\"v\"");
    let (out, err) = redis_cli(
        &sim,
        &["--no-raw", "-a", "nope", "--no-auth-warning", "GET", "k"],
        b"",
    );
    assert!(
        err.contains("AUTH failed: WRONGPASS invalid username-password pair"),
        "{err}"
    );
    assert!(out.contains("NOAUTH Authentication required."), "{out}");
    // A session can also authenticate with a command.
    let (out, _) = redis_cli(&sim, &[], b"AUTH wrong\nAUTH default hunter2\nGET k\n");
    assert!(
        out.ends_with("OK\nv\n") && out.contains("WRONGPASS"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// edgepool's client and pool

fn quick(sim: &RedisSim) -> Config {
    Config::from_url(&sim.url())
        .unwrap()
        .connect_timeout(Duration::from_millis(500))
        .read_timeout(Duration::from_millis(300))
        .write_timeout(Duration::from_millis(300))
}

fn pool(config: Config) -> Pool<Manager> {
    Pool::builder()
        .max_size(2)
        .acquire_timeout(Duration::from_millis(1500))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
        .health_check_interval(None)
        .build(Manager::new(config))
        .unwrap()
}

/// Retries `f` for up to 3 s until it succeeds; returns the value and how
/// many calls failed first.
fn until_ok<T>(mut f: impl FnMut() -> edgepool::Result<T>) -> (T, usize) {
    let end = Instant::now() + Duration::from_secs(3);
    let mut failures = 0;
    loop {
        match f() {
            Ok(v) => return (v, failures),
            Err(e) => {
                assert!(Instant::now() < end, "still failing after 3 s: {e}");
                failures += 1;
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn client_commands_and_replies() {
    let sim = RedisSim::start().unwrap();
    let mut c = Client::connect(&quick(&sim).db(2).client_name("sim-test")).unwrap();
    assert_eq!(
        c.cmd(&["CLIENT", "GETNAME"]).unwrap(),
        Value::Bulk(b"sim-test".to_vec())
    );
    c.set("k", "v").unwrap();
    assert_eq!(c.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(c.incr("n").unwrap(), 1);
    assert_eq!(c.cmd(&["DECRBY", "n", "5"]).unwrap(), Value::Int(-4));
    assert_eq!(c.hset("h", "f", "1").unwrap(), 1);
    assert_eq!(c.hset("h", "f", "2").unwrap(), 0);
    assert_eq!(c.hget("h", "f").unwrap().as_deref(), Some(&b"2"[..]));
    assert!(c.exists("h").unwrap());
    assert_eq!(c.del(&["k", "h", "none"]).unwrap(), 2);
    // Binary-safe keys and values, and a large value.
    let big = vec![0xA5u8; 3 << 20];
    c.set(b"\x00\xff\r\n", &big).unwrap();
    assert_eq!(c.get(b"\x00\xff\r\n").unwrap(), Some(big));
    // Expiry is lazy, on Instant deadlines.
    c.cmd(&["SET", "tmp", "x", "PX", "80"]).unwrap();
    assert!(c.exists("tmp").unwrap());
    thread::sleep(Duration::from_millis(120));
    assert_eq!(c.get("tmp").unwrap(), None);
    assert_eq!(c.cmd(&["TTL", "tmp"]).unwrap(), Value::Int(-2));
    c.set_ex("sess", "x", 50).unwrap();
    assert_eq!(c.cmd(&["TTL", "sess"]).unwrap(), Value::Int(50));
    // Error replies keep the connection.
    match c.cmd(&["SET", "k", "v", "EX", "0"]) {
        Err(Error::Redis(m)) => assert_eq!(m, "ERR invalid expire time in 'set' command"),
        other => panic!("{other:?}"),
    }
    match c.incr("sess") {
        Err(Error::Redis(m)) => assert_eq!(m, "ERR value is not an integer or out of range"),
        other => panic!("{other:?}"),
    }
    assert!(!c.is_broken());
    // Databases are separate keyspaces.
    let mut db0 = Client::connect(&quick(&sim)).unwrap();
    assert_eq!(db0.get("n").unwrap(), None);
    assert_eq!(c.cmd(&["DBSIZE"]).unwrap(), Value::Int(3));
    c.cmd(&["FLUSHDB"]).unwrap();
    assert_eq!(c.cmd(&["DBSIZE"]).unwrap(), Value::Int(0));
}

#[test]
fn raw_socket_pipelining_inline_and_protocol_errors() {
    let sim = RedisSim::start().unwrap();
    let exchange = |input: &[u8]| -> Vec<u8> {
        let mut s = TcpStream::connect(sim.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        // The server may close first (QUIT, a protocol error).
        let _ = s.write_all(input);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    };
    // Pipelined multibulk and inline requests, answered in order; QUIT ends it.
    let out = exchange(
        b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\nset a 10\r\nINCRBY a 5\n\r\n\
          *2\r\n$3\r\nGET\r\n$1\r\na\r\nQUIT\r\nPING\r\n",
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        "$2\r\nhi\r\n+PONG\r\n+OK\r\n:15\r\n$2\r\n15\r\n+OK\r\n"
    );
    // Garbage: Redis's protocol error, then the server closes.
    for (input, reply) in [
        (&b"*1\r\n+PING\r\nPING\r\n"[..], "expected '$', got '+'"),
        (b"*x\r\nPING\r\n", "invalid multibulk length"),
        (b"*1\r\n$-5\r\n", "invalid bulk length"),
        (b"*1\r\n$999999999999\r\n", "invalid bulk length"),
        (b"ECHO \"open\r\n", "unbalanced quotes in request"),
    ] {
        let out = exchange(input);
        assert_eq!(
            String::from_utf8_lossy(&out),
            format!("-ERR Protocol error: {reply}\r\n")
        );
    }
    let out = exchange(&vec![b'x'; 70_000]);
    assert_eq!(out, b"-ERR Protocol error: too big inline request\r\n");
    // Still serving.
    assert_eq!(exchange(b"PING\r\n"), b"+PONG\r\n");
}

#[test]
fn silent_fault_times_out_then_recovers() {
    let sim = RedisSim::start().unwrap();
    let pool = pool(quick(&sim));
    pool.execute(|c| c.set("k", "v")).unwrap();
    sim.faults().set_silent(true);
    let t = Instant::now();
    let err = pool.execute(|c| c.get("k")).unwrap_err();
    let waited = t.elapsed();
    assert!(matches!(err, Error::Timeout(Phase::Read)), "{err}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
    // Silent: ignored requests are not executed either.
    let before = sim.commands();
    assert!(pool.execute(|c| c.set("k", "changed")).is_err());
    assert_eq!(sim.commands(), before);
    sim.faults().set_silent(false);
    let (v, _) = until_ok(|| pool.execute(|c| c.get("k")));
    assert_eq!(v.as_deref(), Some(&b"v"[..]));
}

#[test]
fn delay_fault_adds_latency() {
    let sim = RedisSim::start().unwrap();
    let pool = pool(quick(&sim));
    pool.execute(|c| c.ping()).unwrap();
    sim.faults().set_delay(Duration::from_millis(120));
    let t = Instant::now();
    pool.execute(|c| c.ping()).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(120),
        "{:?}",
        t.elapsed()
    );
    // Over the read timeout: the call times out.
    sim.faults().set_delay(Duration::from_millis(400));
    let err = pool.execute(|c| c.ping()).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    sim.faults().clear();
    let t = Instant::now();
    until_ok(|| pool.execute(|c| c.ping()));
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn dropped_connections_cost_at_most_one_call() {
    let sim = RedisSim::start().unwrap();
    let pool = pool(quick(&sim));
    pool.execute(|c| c.set("k", "v")).unwrap();
    sim.faults().drop_connections();
    // The pooled connection is dead: the next call fails with a transport
    // error (and the pool discards it) or succeeds on a fresh one.
    match pool.execute(|c| c.get("k")) {
        Ok(v) => assert_eq!(v.as_deref(), Some(&b"v"[..])),
        Err(e) => assert!(e.is_transport(), "{e}"),
    }
    let v = pool.execute(|c| c.get("k")).unwrap();
    assert_eq!(
        v.as_deref(),
        Some(&b"v"[..]),
        "data survives a dropped connection"
    );
}

#[test]
fn restart_clears_data_and_the_pool_recovers() {
    let sim = RedisSim::start().unwrap();
    let pool = pool(quick(&sim));
    pool.execute(|c| c.set("k", "v")).unwrap();
    let addr = sim.addr();
    thread::scope(|s| {
        let restart = s.spawn(|| sim.restart(Duration::from_millis(300)));
        // While it is down, the port refuses connections.
        let mut refused = false;
        while !restart.is_finished() && !refused {
            refused = TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err();
            thread::sleep(Duration::from_millis(10));
        }
        assert!(refused, "the port never closed during the restart");
        restart.join().unwrap().unwrap();
    });
    assert_eq!(sim.addr(), addr, "same port after the restart");
    let (v, failures) = until_ok(|| pool.execute(|c| c.get("k")));
    assert_eq!(v, None, "a restart forgets the data");
    assert!(failures <= 2, "{failures} failed calls before recovering");
    pool.execute(|c| c.set("k", "again")).unwrap();
}

#[test]
fn password_required() {
    let sim = RedisSim::with_password("s3cr3t:/@").unwrap();
    assert!(!format!("{sim:?}").contains("s3cr3t"), "{sim:?}");
    // The URL carries the (escaped) password.
    let good = pool(quick(&sim));
    good.execute(|c| c.set("k", "v")).unwrap();
    let mut user = Client::connect(&quick(&sim).auth(Some("default"), "s3cr3t:/@")).unwrap();
    assert_eq!(user.get("k").unwrap().as_deref(), Some(&b"v"[..]));

    let addr = sim.addr().to_string();
    let wrong = quick(&sim).auth(None, "guess");
    match Client::connect(&wrong) {
        Err(Error::Auth(m)) => assert!(m.starts_with("WRONGPASS"), "{m}"),
        other => panic!("{other:?}"),
    }
    match Client::connect(&Config::new(addr.clone()).auth(Some("bob"), "s3cr3t:/@")) {
        Err(Error::Auth(_)) => {}
        other => panic!("{other:?}"),
    }
    // No password: connected, but every command is refused.
    let mut anon = Client::connect(&Config::new(addr)).unwrap();
    match anon.ping() {
        Err(Error::Redis(m)) => assert_eq!(m, "NOAUTH Authentication required."),
        other => panic!("{other:?}"),
    }
    // A pool with the wrong password reports the auth error, not a hang.
    let bad = pool(wrong);
    let t = Instant::now();
    let mut saw_auth = false;
    for _ in 0..3 {
        match bad.get() {
            Err(Error::Auth(_)) => {
                saw_auth = true;
                break;
            }
            Err(Error::PoolTimeout { last_error, .. }) => {
                let last = last_error.unwrap_or_default();
                assert!(last.contains("WRONGPASS"), "{last}");
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
    assert!(saw_auth, "no Error::Auth from the pool");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

#[test]
fn empty_password_is_refused() {
    assert!(matches!(RedisSim::with_password(""), Err(Error::Config(_))));
}

#[test]
fn restart_is_prompt_during_a_delayed_pipeline() {
    let sim = RedisSim::start().unwrap();
    sim.faults().set_delay(Duration::from_millis(100));
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    s.write_all(&b"PING\r\n".repeat(50)).unwrap();
    thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    sim.restart(Duration::ZERO).unwrap();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    sim.faults().clear();
    let mut c = Client::connect(&quick(&sim)).unwrap();
    c.ping().unwrap();
}

#[test]
fn concurrent_increments_add_up() {
    let sim = RedisSim::start().unwrap();
    let pool = Pool::builder()
        .max_size(4)
        .acquire_timeout(Duration::from_secs(2))
        .build(Manager::new(quick(&sim)))
        .unwrap();
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..50 {
                    pool.execute(|c| c.incr("hits")).unwrap();
                }
            });
        }
    });
    assert_eq!(pool.execute(|c| c.incr("hits")).unwrap(), 401);
    assert!(sim.commands() >= 401);
}
