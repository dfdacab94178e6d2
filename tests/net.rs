//! `edgepool::net` and `edgepool::tcp` over plain TCP, on real loopback sockets.

mod common;
use common::eventually;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use edgepool::net::{self, ConnectOptions, Keepalive, SocketState, Stream};
use edgepool::tcp::{Config, Connection, Manager};
use edgepool::{Error, Phase, Probe};
use r2d2::ManageConnection;
use socket2::SockRef;

const MARGIN: Duration = Duration::from_millis(200);

fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let addr = listener.local_addr().expect("local_addr").to_string();
    (listener, addr)
}

/// A loopback port with nothing listening on it.
fn closed_port() -> SocketAddr {
    let (listener, _) = listener();
    listener.local_addr().expect("local_addr")
}

#[test]
fn connect_applies_the_options() {
    let (_listener, addr) = listener();
    let opts = ConnectOptions::default().read_timeout(Some(Duration::from_secs(2)));
    let stream = net::connect(&addr, &opts).expect("connect");
    assert!(stream.nodelay().expect("nodelay"));
    assert_eq!(
        stream.read_timeout().expect("rt"),
        Some(Duration::from_secs(2))
    );
    assert_eq!(
        stream.write_timeout().expect("wt"),
        Some(Duration::from_secs(5))
    );
    let sock = SockRef::from(&stream);
    assert!(sock.keepalive().expect("SO_KEEPALIVE"));
    #[cfg(target_os = "linux")]
    {
        assert_eq!(
            sock.keepalive_time().expect("idle"),
            Duration::from_secs(30)
        );
        assert_eq!(
            sock.keepalive_interval().expect("intvl"),
            Duration::from_secs(5)
        );
        assert_eq!(sock.keepalive_retries().expect("cnt"), 3);
    }

    let opts = ConnectOptions::default()
        .nodelay(false)
        .keepalive(None)
        .read_timeout(None)
        .write_timeout(None);
    let stream = net::connect(&addr, &opts).expect("connect");
    assert!(!stream.nodelay().expect("nodelay"));
    assert!(!SockRef::from(&stream).keepalive().expect("SO_KEEPALIVE"));
    assert_eq!(stream.read_timeout().expect("rt"), None);
}

#[test]
fn custom_keepalive_is_applied() {
    let (_listener, addr) = listener();
    let keepalive = Keepalive {
        idle: Duration::from_secs(7),
        interval: Duration::from_secs(2),
        count: 4,
    };
    let stream = net::connect(&addr, &ConnectOptions::default().keepalive(Some(keepalive)))
        .expect("connect");
    let sock = SockRef::from(&stream);
    assert!(sock.keepalive().expect("SO_KEEPALIVE"));
    #[cfg(target_os = "linux")]
    {
        assert_eq!(sock.keepalive_time().expect("idle"), Duration::from_secs(7));
        assert_eq!(
            sock.keepalive_interval().expect("intvl"),
            Duration::from_secs(2)
        );
        assert_eq!(sock.keepalive_retries().expect("cnt"), 4);
    }
}

#[test]
fn refused_port_fails_fast_and_names_the_address() {
    let addr = closed_port().to_string();
    let start = Instant::now();
    let err = net::connect(&addr, &ConnectOptions::default()).expect_err("nothing listens");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    match err {
        Error::Io(e) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
            assert!(e.to_string().contains(&addr), "{e}");
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[test]
fn every_resolved_address_is_tried() {
    let (listener, _) = listener();
    let live = listener.local_addr().expect("local_addr");
    let dead = closed_port();
    let stream = net::connect_addrs(&[dead, live], &ConnectOptions::default()).expect("second");
    assert_eq!(stream.peer_addr().expect("peer"), live);

    // All refused: the error names the last address tried.
    let other = closed_port();
    match net::connect_addrs(&[dead, other], &ConnectOptions::default()) {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
            assert!(e.to_string().contains(&other.to_string()), "{e}");
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[test]
fn a_name_is_resolved_and_its_addresses_tried() {
    // "localhost" may resolve to ::1 first, where nothing listens on this port.
    let (listener, _) = listener();
    let port = listener.local_addr().expect("local_addr").port();
    let stream = net::connect(&format!("localhost:{port}"), &ConnectOptions::default())
        .expect("connect to localhost");
    assert_eq!(stream.peer_addr().expect("peer").port(), port);
}

#[test]
fn no_address_is_an_error() {
    assert!(matches!(
        net::connect("", &ConnectOptions::default()),
        Err(Error::Config(_))
    ));
    match net::connect_addrs(&[], &ConnectOptions::default()) {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
        other => panic!("expected a NotFound Io error, got {other:?}"),
    }
}

#[test]
fn zero_timeouts_are_config_errors() {
    let (_listener, addr) = listener();
    let bad = [
        ConnectOptions::default().connect_timeout(Duration::ZERO),
        ConnectOptions::default().read_timeout(Some(Duration::ZERO)),
        ConnectOptions::default().write_timeout(Some(Duration::ZERO)),
    ];
    for opts in &bad {
        assert!(
            matches!(net::connect(&addr, opts), Err(Error::Config(_))),
            "{opts:?}"
        );
    }
    let config = Config::new(addr.as_str()).read_timeout(Some(Duration::ZERO));
    assert!(matches!(
        Connection::connect(&config),
        Err(Error::Config(_))
    ));
    let config = Config::new(addr.as_str()).connect_timeout(Duration::ZERO);
    assert!(matches!(
        Connection::connect(&config),
        Err(Error::Config(_))
    ));

    let stream = Stream::open(&addr, &ConnectOptions::default()).expect("ok");
    assert!(matches!(
        stream.set_read_timeout(Some(Duration::ZERO)),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        stream.set_write_timeout(Some(Duration::ZERO)),
        Err(Error::Config(_))
    ));
}

#[test]
fn socket_state_sees_idle_dirty_and_closed_without_consuming() {
    let (listener, addr) = listener();
    let mut stream = net::connect(&addr, &ConnectOptions::default()).expect("connect");
    let (mut peer, _) = listener.accept().expect("accept");
    assert_eq!(net::socket_state(&stream), SocketState::Idle);

    peer.write_all(b"late").expect("peer write");
    assert!(eventually(
        || net::socket_state(&stream) != SocketState::Idle
    ));
    assert_eq!(net::socket_state(&stream), SocketState::Dirty);
    assert_eq!(
        net::socket_state(&stream),
        SocketState::Dirty,
        "peek consumed data"
    );
    let mut buf = [0; 4];
    stream
        .read_exact(&mut buf)
        .expect("the bytes are still there");
    assert_eq!(&buf, b"late");
    assert_eq!(net::socket_state(&stream), SocketState::Idle);

    // Blocking mode was restored: a read waits for its timeout.
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("set timeout");
    let start = Instant::now();
    let err = stream.read(&mut buf).expect_err("nothing to read");
    assert!(matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ));
    assert!(
        start.elapsed() >= Duration::from_millis(90),
        "{:?}",
        start.elapsed()
    );

    drop(peer);
    assert!(eventually(
        || net::socket_state(&stream) == SocketState::Closed
    ));
}

#[test]
fn stream_state_for_a_plain_stream() {
    let (listener, addr) = listener();
    let mut stream = Stream::open(&addr, &ConnectOptions::default()).expect("ok");
    assert!(!stream.is_tls());
    let (peer, _) = listener.accept().expect("accept");
    assert_eq!(
        stream.peer_addr().expect("peer"),
        listener.local_addr().expect("local")
    );
    assert_eq!(stream.state(), SocketState::Idle);
    drop(peer);
    assert!(eventually(|| stream.state() == SocketState::Closed));
}

#[test]
fn a_silent_peer_times_out_the_read_and_breaks_the_connection() {
    let (listener, addr) = listener();
    let timeout = Duration::from_millis(200);
    let mut conn =
        Connection::connect(&Config::new(addr).read_timeout(Some(timeout))).expect("connect");
    let (_peer, _) = listener.accept().expect("accept");
    conn.write_all(b"hello?").expect("write");
    let start = Instant::now();
    let err = conn.read(&mut [0; 16]).expect_err("the peer never answers");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= timeout - Duration::from_millis(20),
        "{elapsed:?}"
    );
    assert!(elapsed < timeout + MARGIN, "{elapsed:?}");
    assert!(matches!(
        Error::from_io(err, Phase::Read),
        Error::Timeout(Phase::Read)
    ));
    assert!(conn.is_broken());
    assert!(matches!(conn.probe(), Err(Error::Unhealthy(_))));
}

#[test]
fn end_of_stream_breaks_the_connection() {
    let (listener, addr) = listener();
    let mut conn = Connection::connect(&Config::new(addr)).expect("connect");
    let (mut peer, _) = listener.accept().expect("accept");
    peer.write_all(b"bye").expect("peer write");
    drop(peer);
    let mut buf = Vec::new();
    conn.read_to_end(&mut buf).expect("read to end");
    assert_eq!(buf, b"bye");
    assert!(conn.is_broken());
}

#[test]
fn probe_reports_closed_and_dirty_connections() {
    let (listener, addr) = listener();
    let config = Config::new(addr);

    let mut conn = Connection::connect(&config).expect("connect");
    let (mut peer, _) = listener.accept().expect("accept");
    conn.probe().expect("idle");
    peer.write_all(b"stray").expect("peer write");
    assert!(eventually(|| conn.stream().tcp().peek(&mut [0]).is_ok()));
    match conn.probe() {
        Err(Error::Unhealthy(why)) => assert!(why.contains("unread"), "{why}"),
        other => panic!("expected Unhealthy, got {other:?}"),
    }
    assert!(conn.is_broken());

    let mut conn = Connection::connect(&config).expect("connect");
    let (peer, _) = listener.accept().expect("accept");
    conn.probe().expect("idle");
    drop(peer);
    let mut last = Ok(());
    assert!(eventually(|| {
        last = conn.probe();
        last.is_err()
    }));
    match last {
        Err(Error::Unhealthy(why)) => assert!(why.contains("closed"), "{why}"),
        other => panic!("expected Unhealthy, got {other:?}"),
    }
    assert!(conn.is_broken());
}

#[test]
fn connection_debug_shows_peer_and_tls() {
    let (listener, addr) = listener();
    let conn = Connection::connect(&Config::new(addr.as_str())).expect("connect");
    let debug = format!("{conn:?}");
    assert!(debug.contains(&addr), "{debug}");
    assert!(debug.contains("tls: false"), "{debug}");
    drop(listener);
}

#[test]
fn manager_in_a_plain_r2d2_pool() {
    let (listener, addr) = listener();
    let manager = Manager::new(Config::new(addr));
    let pool = r2d2::Pool::builder()
        .max_size(2)
        .min_idle(Some(0))
        .build(manager.clone())
        .expect("build never connects with min_idle 0");
    let mut conn = pool.get().expect("checkout");
    let (mut peer, _) = listener.accept().expect("accept");
    conn.write_all(b"ping").expect("write");
    let mut buf = [0; 4];
    peer.read_exact(&mut buf).expect("peer read");
    peer.write_all(b"pong").expect("peer write");
    conn.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b"pong");
    drop(conn);

    let mut conn = manager.connect().expect("connect");
    let (peer, _) = listener.accept().expect("accept");
    manager.is_valid(&mut conn).expect("valid");
    assert!(!manager.has_broken(&mut conn));
    drop(peer);
    assert!(eventually(|| manager.is_valid(&mut conn).is_err()));
    assert!(manager.has_broken(&mut conn));
}

#[cfg(not(feature = "tls"))]
#[test]
fn tls_without_the_feature_is_a_config_error() {
    let (_listener, addr) = listener();
    match Stream::open(
        &addr,
        &ConnectOptions::default().tls(net::TlsMode::Insecure),
    ) {
        Err(Error::Config(msg)) => assert!(msg.contains("`tls` feature"), "{msg}"),
        other => panic!("expected Error::Config, got {other:?}"),
    }
}

/// A loopback address whose SYNs are dropped: a listener with backlog 0 whose
/// accept queue is full. Linux drops SYNs to a full queue; other systems may
/// refuse them instead, so these tests run on Linux only.
#[cfg(target_os = "linux")]
fn blackhole() -> (socket2::Socket, Vec<TcpStream>, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    socket.bind(&any.into()).expect("bind");
    socket.listen(0).expect("listen");
    let addr = socket
        .local_addr()
        .expect("local_addr")
        .as_socket()
        .expect("inet");
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(s) => fillers.push(s),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return (socket, fillers, addr),
            Err(e) => panic!("filling the accept queue: {e}"),
        }
    }
    panic!("the accept queue never filled up");
}

#[cfg(target_os = "linux")]
#[test]
fn connect_timeout_is_honoured() {
    let (_socket, _fillers, addr) = blackhole();
    let timeout = Duration::from_millis(300);
    let opts = ConnectOptions::default().connect_timeout(timeout);
    let start = Instant::now();
    let result = net::connect(&addr.to_string(), &opts);
    let elapsed = start.elapsed();
    assert!(
        matches!(result, Err(Error::Timeout(Phase::Connect))),
        "{result:?}"
    );
    assert!(
        elapsed >= timeout - Duration::from_millis(20),
        "{elapsed:?}"
    );
    assert!(elapsed < timeout + MARGIN, "{elapsed:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn connect_timeout_bounds_all_addresses_together() {
    let (_socket, _fillers, hole) = blackhole();
    let timeout = Duration::from_millis(400);
    let opts = ConnectOptions::default().connect_timeout(timeout);

    let start = Instant::now();
    let result = net::connect_addrs(&[hole, hole, hole], &opts);
    let elapsed = start.elapsed();
    assert!(
        matches!(result, Err(Error::Timeout(Phase::Connect))),
        "{result:?}"
    );
    assert!(elapsed < timeout + MARGIN, "{elapsed:?}");

    // The first address gets only its share, so the second is still reached.
    let (listener, _) = listener();
    let live = listener.local_addr().expect("local_addr");
    let start = Instant::now();
    let stream = net::connect_addrs(&[hole, live], &opts).expect("the live address");
    assert_eq!(stream.peer_addr().expect("peer"), live);
    assert!(start.elapsed() < timeout, "{:?}", start.elapsed());
}
