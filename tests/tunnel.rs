//! Tunnel pools on loopback: `tunnel::ServerPool` and `tunnel::ClientPool`
//! against each other and against hand-written peers that speak the NodePass
//! wire format (4 raw ID bytes from the server, first thing on the wire).
//! TLS certificates come from the `openssl` CLI (`tests/common/tls.rs`).
#![cfg(feature = "tunnel")]

mod common;
use common::{eventually, eventually_within};

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use edgepool::net::{Stream, TlsMode};
use edgepool::tunnel::{ClientPool, ClientPoolBuilder, ConnId, IdFormat, ServerPool};
use edgepool::Error;

const WAIT: Duration = Duration::from_secs(5);
const MARGIN: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------- helpers

fn server() -> ServerPool {
    ServerPool::builder().bind("127.0.0.1:0").expect("bind")
}

/// A client of `server` that refills quickly (tests need not wait 100 ms
/// rounds).
fn client_of(server: &ServerPool) -> ClientPoolBuilder {
    ClientPool::builder(server.local_addr().to_string())
        .min_interval(Duration::from_millis(5))
        .max_interval(Duration::from_millis(50))
}

/// One matched pair: the server's end, its ID, and the client's end.
fn pair(server: &ServerPool, client: &ClientPool) -> (ConnId, Stream, Stream) {
    let (id, near) = server.get(WAIT).expect("server.get");
    let far = client.get(id, WAIT).expect("client.get(id)");
    (id, near, far)
}

fn send(from: &mut impl Write, to: &mut impl Read, msg: &[u8]) {
    from.write_all(msg).expect("write");
    let mut got = vec![0; msg.len()];
    to.read_exact(&mut got).expect("read");
    assert_eq!(got, msg);
}

/// What a client does by hand: connect (from `source`, if given) and read
/// the 4-byte ID. `None` if the server hangs up first.
fn raw_client(server: SocketAddr, source: Option<IpAddr>) -> (TcpStream, Option<ConnId>) {
    let mut tcp = match source {
        None => TcpStream::connect(server).expect("connect"),
        Some(ip) => {
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(server),
                socket2::Type::STREAM,
                None,
            )
            .expect("socket");
            socket
                .bind(&SocketAddr::new(ip, 0).into())
                .expect("bind the source address");
            socket
                .connect_timeout(&server.into(), WAIT)
                .expect("connect");
            socket.into()
        }
    };
    tcp.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut id = [0u8; 4];
    let got = tcp
        .read_exact(&mut id)
        .ok()
        .map(|()| ConnId::from_bytes(id));
    (tcp, got)
}

/// Reads until the peer hangs up; returns how long that took.
fn time_until_closed(tcp: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    tcp.set_read_timeout(Some(limit)).expect("timeout");
    let mut buf = [0u8; 64];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => return start.elapsed(),
            Ok(_) => {}
        }
    }
}

/// A hand-written server: for each entry of `script` it accepts one
/// connection and sends those bytes (after the given delay). Connections are
/// held open until `hold` passes, then the thread returns them.
fn scripted_server(
    script: Vec<(Duration, Vec<u8>)>,
    hold: Duration,
) -> (SocketAddr, thread::JoinHandle<Vec<TcpStream>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = thread::spawn(move || {
        let mut held = Vec::new();
        for (delay, bytes) in script {
            let Ok((mut tcp, _)) = listener.accept() else {
                break;
            };
            thread::sleep(delay);
            let _ = tcp.write_all(&bytes);
            held.push(tcp);
        }
        thread::sleep(hold);
        held
    });
    (addr, handle)
}

// ---------------------------------------------------------------- the basics

#[test]
fn pools_and_builders_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ClientPool>();
    send_sync::<ServerPool>();
    send_sync::<ClientPoolBuilder>();
    send_sync::<edgepool::tunnel::ServerPoolBuilder>();
    send_sync::<ConnId>();
}

#[test]
fn ids_match_on_both_ends_and_data_flows_both_ways() {
    let server = server();
    let client = client_of(&server).min_capacity(4).start().expect("start");
    for i in 0..10u8 {
        let (id, mut near, mut far) = pair(&server, &client);
        let shown = id.to_string();
        assert_eq!(shown.len(), 8);
        assert!(
            shown
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{shown}"
        );
        assert_eq!(shown.parse::<ConnId>().expect("parse"), id);
        // The same TCP connection seen from both ends.
        assert_eq!(near.peer_addr().unwrap(), far.tcp().local_addr().unwrap());
        assert_eq!(far.peer_addr().unwrap(), server.local_addr());
        send(&mut near, &mut far, &[b'>', i]);
        send(&mut far, &mut near, &[b'<', i]);
    }
    assert!(client.ready());
    assert!(client.errors() == 0, "{:?}", client.last_error());
}

#[test]
fn client_get_waits_for_an_id_still_in_flight() {
    // A NodePass-style server by hand, whose ID takes 300 ms to arrive.
    let id = ConnId::from_bytes([0x3f, 0xa2, 0xc0, 0x1b]);
    let delay = Duration::from_millis(300);
    let hold = Duration::from_millis(300);
    let (addr, server) = scripted_server(vec![(delay, id.to_bytes().to_vec())], hold);
    let client = ClientPool::builder(addr.to_string())
        .min_capacity(1)
        .max_capacity(1)
        .start()
        .expect("start");
    let start = Instant::now();
    let mut far = client.get("3fa2c01b".parse().unwrap(), WAIT).expect("get");
    let waited = start.elapsed();
    assert!(waited >= delay - Duration::from_millis(50), "{waited:?}");
    assert!(waited < delay + MARGIN, "{waited:?}");
    client.close();
    let mut held = server.join().expect("server thread");
    send(&mut held[0], &mut far, b"after the id");
}

#[test]
fn an_unknown_id_times_out_with_a_clear_error() {
    let server = server();
    let client = client_of(&server).min_capacity(2).start().expect("start");
    assert!(eventually(|| client.active() >= 2));
    let timeout = Duration::from_millis(200);
    let start = Instant::now();
    let err = client
        .get("deadbeef".parse().unwrap(), timeout)
        .expect_err("no such connection");
    let elapsed = start.elapsed();
    match &err {
        Error::PoolTimeout { waited, last_error } => {
            assert!(*waited >= timeout, "{waited:?}");
            assert!(last_error.is_none(), "the server answers: {last_error:?}");
        }
        other => panic!("expected PoolTimeout, got {other:?}"),
    }
    assert!(err.to_string().contains("timed out after"), "{err}");
    assert!(elapsed < timeout + MARGIN, "{elapsed:?}");
    // The stock is untouched and still usable.
    let (_, mut near, mut far) = pair(&server, &client);
    send(&mut near, &mut far, b"still fine");
}

#[test]
fn the_control_connection_comes_first_and_either_end_can_start() {
    let server = server();
    let client = client_of(&server).min_capacity(4).start().expect("start");
    // NodePass takes the control connection by ID on the client.
    let mut control_far = client
        .get_by_id(ConnId::CONTROL, WAIT)
        .expect("the control connection");
    let (id, mut control_near) = server.get_any(WAIT).expect("get_any");
    assert_eq!(id, ConnId::CONTROL, "the server's first connection");
    send(&mut control_near, &mut control_far, b"control");
    // Only one control connection: later ones are random.
    let (id, mut near) = server.get_any(WAIT).expect("server starts");
    assert_ne!(id, ConnId::CONTROL);
    let mut far = client.get_by_id(id, WAIT).expect("by id");
    send(&mut near, &mut far, b"server first");
    let (id, mut far) = client.get_any(WAIT).expect("client starts");
    assert_ne!(id, ConnId::CONTROL);
    let mut near = server.get_by_id(id, WAIT).expect("by id");
    send(&mut far, &mut near, b"client first");
    // Unknown IDs time out on both ends.
    let unknown: ConnId = "00c0ffee".parse().unwrap();
    let err = server.get_by_id(unknown, Duration::from_millis(50));
    assert!(matches!(err, Err(Error::PoolTimeout { .. })), "{err:?}");
    let err = client.get_by_id(unknown, Duration::from_millis(50));
    assert!(matches!(err, Err(Error::PoolTimeout { .. })), "{err:?}");
    // A server pool that restarts gives out 00000000 again.
    let again = ServerPool::builder().bind("127.0.0.1:0").expect("bind");
    let (_, first) = raw_client(again.local_addr(), None);
    assert_eq!(first, Some(ConnId::CONTROL));
}

#[test]
fn the_older_hex_id_format_works_both_ways() {
    // An edgepool server: a hand-written client reads 8 hex characters.
    let server = ServerPool::builder()
        .id_format(IdFormat::Hex)
        .bind("127.0.0.1:0")
        .expect("bind");
    let mut raw = TcpStream::connect(server.local_addr()).expect("connect");
    raw.set_read_timeout(Some(WAIT)).unwrap();
    let mut text = [0u8; 8];
    raw.read_exact(&mut text).expect("8 characters");
    assert_eq!(&text, b"00000000", "the control connection comes first");
    let mut raw2 = TcpStream::connect(server.local_addr()).expect("connect");
    raw2.set_read_timeout(Some(WAIT)).unwrap();
    raw2.read_exact(&mut text).expect("8 characters");
    let id: ConnId = std::str::from_utf8(&text).unwrap().parse().expect("hex");
    raw2.write_all(b"after the id").unwrap();
    let mut near = server.get_by_id(id, WAIT).expect("by the ID it sent");
    let mut got = [0u8; 12];
    near.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"after the id", "nothing of the payload was taken");

    // An edgepool client of a hand-written server that sends hex IDs.
    let (addr, held) = scripted_server(
        vec![
            (Duration::ZERO, b"0badcafe".to_vec()),
            (Duration::ZERO, b"DEADBEEFpayload".to_vec()),
        ],
        Duration::from_millis(500),
    );
    let client = ClientPool::builder(addr.to_string())
        .min_capacity(2)
        .max_capacity(2)
        .id_format(IdFormat::Hex)
        .start()
        .expect("start");
    client
        .get_by_id("0badcafe".parse().unwrap(), WAIT)
        .expect("0badcafe");
    let mut far = client
        .get_by_id("deadbeef".parse().unwrap(), WAIT)
        .expect("upper-case hex is read too");
    let mut got = [0u8; 7];
    far.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"payload");
    client.close();
    drop(held.join());

    // Two edgepool ends.
    let client = client_of(&server)
        .id_format(IdFormat::Hex)
        .start()
        .expect("start");
    drop(raw);
    let (_, mut near, mut far) = pair(&server, &client);
    send(&mut near, &mut far, b"hex both ways");
    send(&mut far, &mut near, b"and back");
}

#[test]
fn the_server_hands_out_fifo_and_times_out_when_empty() {
    let server = server();
    let (_a, id_a) = raw_client(server.local_addr(), None);
    assert!(eventually(|| server.active() == 1));
    let (_b, id_b) = raw_client(server.local_addr(), None);
    assert!(eventually(|| server.active() == 2));
    assert_eq!(server.get(WAIT).unwrap().0, id_a.unwrap());
    assert_eq!(server.get(WAIT).unwrap().0, id_b.unwrap());
    let start = Instant::now();
    let err = server.get(Duration::from_millis(100)).unwrap_err();
    assert!(matches!(err, Error::PoolTimeout { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_millis(100) + MARGIN);
}

// ---------------------------------------------------------------- allow_ip

#[test]
fn a_client_from_another_ip_is_refused() {
    let allowed = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let server = ServerPool::builder()
        .allow_ip(Some(allowed))
        .bind("127.0.0.1:0")
        .expect("bind");

    // From 127.0.0.1: closed before any byte is sent.
    let (_tcp, id) = raw_client(server.local_addr(), None);
    assert_eq!(id, None, "a refused client gets no ID");
    // The pool dialling from 127.0.0.1 sees short reads and backs off.
    let client = client_of(&server).min_capacity(1).start().expect("start");
    assert!(eventually(|| client.errors() >= 1));
    let msg = client.last_error().expect("a dial error");
    assert!(msg.contains("after 0 of the 4"), "{msg}");
    assert_eq!(client.active(), 0);
    assert_eq!(server.active(), 0);
    client.close();

    // From 127.0.0.2: accepted.
    let (_tcp, id) = raw_client(server.local_addr(), Some(allowed));
    let id = id.expect("the allowed client gets an ID");
    assert_eq!(server.get(WAIT).expect("get").0, id);
}

#[test]
fn an_ipv4_mapped_peer_matches_its_ipv4_address() {
    // A dual-stack listener sees 127.0.0.1 as ::ffff:127.0.0.1.
    let Ok(listener) = TcpListener::bind("[::]:0") else {
        eprintln!("skipped: no IPv6 on this machine");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let server = ServerPool::builder()
        .allow_ip(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)))
        .start(listener)
        .expect("start");
    let v4: SocketAddr = ([127, 0, 0, 1], port).into();
    let Ok(probe) = TcpStream::connect_timeout(&v4, WAIT) else {
        eprintln!("skipped: the [::] listener is IPv6-only here");
        return;
    };
    drop(probe);
    let (_tcp, id) = raw_client(v4, None);
    let id = id.expect("127.0.0.1 via ::ffff:127.0.0.1 is allowed");
    assert_eq!(server.get(WAIT).expect("get").0, id);
    let v6: SocketAddr = (std::net::Ipv6Addr::LOCALHOST, port).into();
    if TcpStream::connect_timeout(&v6, WAIT).is_ok() {
        let (_tcp, id) = raw_client(v6, None);
        assert_eq!(id, None, "::1 is not 127.0.0.1");
    }
}

// ---------------------------------------------------------------- the wire

#[test]
fn duplicate_and_short_ids_close_only_that_connection() {
    let x = vec![0xaa, 0xbb, 0xcc, 0x01];
    let y = vec![0xaa, 0xbb, 0xcc, 0x02];
    let now = Duration::ZERO;
    let (addr, server) = scripted_server(
        vec![
            (now, x.clone()),
            (now, x.clone()),  // a duplicate: the client closes it
            (now, vec![1, 2]), // short, and then held open: times out
            (now, y.clone()),
        ],
        Duration::from_millis(1500),
    );
    let client = ClientPool::builder(addr.to_string())
        .min_capacity(2)
        .max_capacity(2)
        .connect_timeout(Duration::from_millis(300))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(50))
        .start()
        .expect("start");
    assert!(eventually_within(WAIT, || client.active() == 2));
    assert_eq!(client.errors(), 2, "{:?}", client.last_error());
    let got_x = client.get(ConnId::from_bytes([0xaa, 0xbb, 0xcc, 0x01]), WAIT);
    let got_y = client.get(ConnId::from_bytes([0xaa, 0xbb, 0xcc, 0x02]), WAIT);
    let (mut far_x, mut far_y) = (got_x.expect("x"), got_y.expect("y"));
    client.close();
    let mut held = server.join().expect("server thread");
    assert_eq!(held.len(), 4);
    // The duplicate and the short one were closed by the client; x and y work.
    assert!(time_until_closed(&mut held[1], WAIT) < WAIT);
    assert!(time_until_closed(&mut held[2], WAIT) < WAIT);
    send(&mut held[0], &mut far_x, b"x");
    send(&mut held[3], &mut far_y, b"y");
}

// ---------------------------------------------------------------- no data loss

#[test]
fn bytes_sent_early_wait_in_the_socket_for_the_application() {
    let server = server();
    let client = client_of(&server).min_capacity(4).start().expect("start");
    // Server → client before the client takes the connection: many manager
    // rounds (5 ms apart) look at the stocked connection meanwhile.
    let (id, mut near) = server.get(WAIT).expect("get");
    near.write_all(b"early bird").unwrap();
    thread::sleep(Duration::from_millis(200));
    let mut far = client.get(id, WAIT).expect("still in stock");
    let mut got = [0u8; 10];
    far.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"early bird");

    // Client → server before the server hands the connection out, then the
    // client hangs up: the data is still delivered, then the end of stream.
    let server = self::server();
    let (mut tcp, id) = raw_client(server.local_addr(), None);
    tcp.write_all(b"from the client").unwrap();
    drop(tcp);
    thread::sleep(Duration::from_millis(50));
    let (got_id, mut near) = server.get(WAIT).expect("get");
    assert_eq!(Some(got_id), id);
    let mut all = Vec::new();
    near.read_to_end(&mut all).unwrap();
    assert_eq!(all, b"from the client");
}

#[test]
fn get_skips_connections_the_client_closed() {
    let server = server();
    let (dead, _) = raw_client(server.local_addr(), None);
    assert!(eventually(|| server.active() == 1));
    let (_alive, alive_id) = raw_client(server.local_addr(), None);
    assert!(eventually(|| server.active() == 2));
    drop(dead);
    thread::sleep(Duration::from_millis(50));
    let (id, _) = server.get(WAIT).expect("get");
    assert_eq!(Some(id), alive_id, "the closed one was skipped");
    assert_eq!(server.active(), 0);
}

#[test]
fn flush_closes_the_stock_and_both_ends_recover() {
    let server = server();
    let client = client_of(&server).min_capacity(4).start().expect("start");
    assert!(eventually(|| client.active() >= 4));
    client.flush();
    let (_, mut near, mut far) = pair(&server, &client);
    send(&mut near, &mut far, b"after a client flush");
    assert!(eventually(|| client.active() >= 1));
    // The client's stocked connections die with the server's flush: the
    // client drops them and dials new ones.
    server.flush();
    let (_, mut near, mut far) = pair(&server, &client);
    send(&mut far, &mut near, b"after a server flush");
}

// ---------------------------------------------------------------- failures

#[test]
fn the_client_backs_off_while_the_server_is_away_and_refills_when_it_returns() {
    let server = server();
    let addr = server.local_addr();
    let client = ClientPool::builder(addr.to_string())
        .min_capacity(2)
        .max_capacity(4)
        .min_interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(100))
        .reconnect_backoff(Duration::from_millis(100), Duration::from_secs(1))
        .start()
        .expect("start");
    assert!(eventually(|| client.active() >= 2));
    let before = client.errors();

    server.close();
    // The stocked connections died with the server: the manager drops them.
    assert!(eventually_within(WAIT, || client.active() == 0));
    let away = Duration::from_secs(5);
    thread::sleep(away);
    let attempts = client.errors() - before;
    // Backoff 100 ms → 1 s with jitter: about 5 to 14 failed dials in 5 s;
    // a dial loop without backoff would make thousands.
    assert!(
        (3..=20).contains(&attempts),
        "{attempts} dial attempts in {away:?}"
    );
    let msg = client.last_error().expect("the last dial error");
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
    match client.get("00000001".parse().unwrap(), Duration::from_millis(50)) {
        Err(Error::PoolTimeout {
            last_error: Some(e),
            ..
        }) => assert_eq!(e, msg),
        other => panic!("expected a PoolTimeout naming the dial error, got {other:?}"),
    }

    // Back on the same port: the stock refills within one backoff step.
    let server = ServerPool::builder()
        .bind(&addr.to_string())
        .expect("bind again");
    assert!(eventually_within(Duration::from_secs(3), || client
        .active()
        >= 1));
    assert_eq!(client.last_error(), None);
    let (_, mut near, mut far) = pair(&server, &client);
    send(&mut near, &mut far, b"welcome back");
}

#[test]
fn silent_clients_do_not_hold_up_others() {
    // Plain TCP: the ID goes out as the connection is accepted, whether the
    // client reads it or not (see the TLS module for slow TLS handshakes).
    let server = server();
    let addr = server.local_addr();
    let _silent: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let start = Instant::now();
    let (_tcp, id) = raw_client(addr, None);
    assert!(id.is_some());
    assert!(start.elapsed() < MARGIN, "{:?}", start.elapsed());
    assert!(eventually(|| server.active() == 4));
}

#[test]
fn close_wakes_waiting_getters() {
    let server = server();
    let client = ClientPool::builder("127.0.0.1:9").start().expect("start");
    let (s, c) = (server.clone(), client.clone());
    let waiting_server = thread::spawn(move || s.get(Duration::from_secs(30)).map(|_| ()));
    let waiting_client = thread::spawn(move || {
        c.get("00000001".parse().unwrap(), Duration::from_secs(30))
            .map(|_| ())
    });
    thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    server.close();
    client.close();
    assert!(matches!(waiting_server.join().unwrap(), Err(Error::Closed)));
    assert!(matches!(waiting_client.join().unwrap(), Err(Error::Closed)));
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(!client.ready());
    // The port is free again once close() returns.
    TcpListener::bind(server.local_addr()).expect("the port is released");
}

#[test]
fn invalid_settings_fail_at_start() {
    let bad_clients = [
        ClientPool::builder("127.0.0.1:9").min_capacity(0),
        ClientPool::builder("127.0.0.1:9")
            .min_capacity(5)
            .max_capacity(4),
        ClientPool::builder("127.0.0.1:9").min_interval(Duration::ZERO),
        ClientPool::builder("127.0.0.1:9")
            .min_interval(Duration::from_secs(2))
            .max_interval(Duration::from_secs(1)),
        ClientPool::builder("127.0.0.1:9").connect_timeout(Duration::ZERO),
        ClientPool::builder("127.0.0.1:9").read_timeout(Some(Duration::ZERO)),
        ClientPool::builder("127.0.0.1:9")
            .reconnect_backoff(Duration::ZERO, Duration::from_secs(1)),
        ClientPool::builder(""),
        ClientPool::builder("127.0.0.1:9").tls(TlsMode::Verified {
            server_name: None,
            ca: Some(b"not a certificate".to_vec()),
        }),
    ];
    for builder in bad_clients {
        let shown = format!("{builder:?}");
        assert!(matches!(builder.start(), Err(Error::Config(_))), "{shown}");
    }
    let bad_servers = [
        ServerPool::builder().max_capacity(0),
        ServerPool::builder().connect_timeout(Duration::ZERO),
        ServerPool::builder().write_timeout(Some(Duration::ZERO)),
        ServerPool::builder().tls(edgepool::tunnel::ServerTls::Pem {
            cert: b"nope".to_vec(),
            key: b"nope".to_vec(),
        }),
    ];
    for builder in bad_servers {
        let shown = format!("{builder:?}");
        assert!(
            matches!(builder.bind("127.0.0.1:0"), Err(Error::Config(_))),
            "{shown}"
        );
    }
}

// ---------------------------------------------------------------- adjustment

#[test]
fn the_stock_shrinks_when_idle_and_grows_when_drained() {
    let server = server();
    let client = ClientPool::builder(server.local_addr().to_string())
        .min_capacity(2)
        .max_capacity(8)
        .min_interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(200))
        .start()
        .expect("start");
    // Idle: nothing is used, so rounds add nothing (capacity → min) and the
    // stock stays full (interval → max).
    assert!(eventually_within(WAIT, || client.capacity() == 2
        && client.interval() == Duration::from_millis(200)));
    // Drained: every round refills the whole stock, so it grows.
    let start = Instant::now();
    while client.capacity() < 5 && start.elapsed() < Duration::from_secs(10) {
        while let Ok((id, _near)) = server.get(Duration::from_millis(5)) {
            let _ = client.get(id, WAIT);
        }
    }
    assert!(client.capacity() >= 5, "capacity {}", client.capacity());
    assert!(
        client.interval() < Duration::from_millis(200),
        "{:?}",
        client.interval()
    );
}

// ---------------------------------------------------------------- load

#[test]
fn eight_threads_a_thousand_matched_pairs_each_with_intact_echoes() {
    let server = ServerPool::builder()
        .max_capacity(512)
        .bind("127.0.0.1:0")
        .expect("bind");
    let client = client_of(&server)
        .min_capacity(32)
        .max_capacity(128)
        .start()
        .expect("start");
    let matched = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let (server, client, matched) = (server.clone(), client.clone(), matched.clone());
            thread::spawn(move || {
                let mut seed = 0x9e37_79b9u32 ^ t;
                for i in 0..1000u32 {
                    let (id, mut near, mut far) = pair(&server, &client);
                    // A payload of 9 to 520 bytes, unique to this pair.
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let len = 9 + (seed >> 23) as usize;
                    let mut payload = format!("{t}:{i}:{id}:").into_bytes();
                    payload.extend((0..len).map(|k| (seed as usize + k) as u8));
                    send(&mut near, &mut far, &payload);
                    payload.reverse();
                    send(&mut far, &mut near, &payload);
                    matched.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a worker failed");
    }
    assert_eq!(matched.load(Ordering::Relaxed), 8000);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(client.errors(), 0, "{:?}", client.last_error());
}

// ---------------------------------------------------------------- TLS

#[cfg(feature = "tls")]
mod tls {
    use super::*;
    use crate::common::tls::{certs, TempDir};
    use edgepool::tunnel::ServerTls;
    use std::fs;
    use std::process::Command;

    fn tls_server(tls: ServerTls) -> ServerPool {
        ServerPool::builder()
            .tls(tls)
            .bind("127.0.0.1:0")
            .expect("bind")
    }

    fn verified(name: &str, ca: &[u8]) -> TlsMode {
        TlsMode::Verified {
            server_name: Some(name.to_owned()),
            ca: Some(ca.to_vec()),
        }
    }

    fn assert_pairs_work(server: &ServerPool, client: &ClientPool) {
        let (_, mut near, mut far) = pair(server, client);
        assert!(near.is_tls() && far.is_tls());
        send(&mut near, &mut far, b"server to client over TLS");
        send(&mut far, &mut near, b"and back");
    }

    fn assert_dials_fail_with_tls_errors(server: &ServerPool, client: &ClientPool) {
        assert!(eventually_within(WAIT, || client.errors() >= 1));
        let msg = client.last_error().expect("a dial error");
        assert!(msg.contains("TLS"), "{msg}");
        assert_eq!(client.active(), 0);
        assert_eq!(server.active(), 0);
    }

    #[test]
    fn verified_with_the_right_ca_works() {
        let certs = certs();
        let server = tls_server(ServerTls::Pem {
            cert: certs.server.0.clone(),
            key: certs.server.1.clone(),
        });
        assert_eq!(server.certificate_pem(), Some(&certs.server.0[..]));
        let client = client_of(&server)
            .tls(verified("localhost", &certs.ca))
            .start()
            .expect("start");
        assert_pairs_work(&server, &client);
        assert_eq!(client.errors(), 0, "{:?}", client.last_error());
    }

    #[test]
    fn a_wrong_ca_or_a_wrong_name_fails() {
        let certs = certs();
        let server = tls_server(ServerTls::Pem {
            cert: certs.server.0.clone(),
            key: certs.server.1.clone(),
        });
        for tls in [
            verified("localhost", &certs.other_ca),
            verified("wrong.example", &certs.ca),
        ] {
            let client = client_of(&server).tls(tls).start().expect("start");
            assert_dials_fail_with_tls_errors(&server, &client);
        }
    }

    #[test]
    fn insecure_accepts_the_self_signed_server() {
        let server = tls_server(ServerTls::SelfSigned);
        let pem = server.certificate_pem().expect("a certificate").to_vec();
        assert!(pem.starts_with(b"-----BEGIN CERTIFICATE-----"));
        let client = client_of(&server)
            .tls(TlsMode::Insecure)
            .start()
            .expect("start");
        assert_pairs_work(&server, &client);

        // Its certificate can also be pinned as the CA...
        let server = tls_server(ServerTls::SelfSigned);
        let pem = server.certificate_pem().expect("a certificate").to_vec();
        let pinned = client_of(&server)
            .tls(verified("localhost", &pem))
            .start()
            .expect("start");
        assert_pairs_work(&server, &pinned);
        // ...while an unrelated CA rejects it.
        let server = tls_server(ServerTls::SelfSigned);
        let client = client_of(&server)
            .tls(verified("localhost", &certs().ca))
            .start()
            .expect("start");
        assert_dials_fail_with_tls_errors(&server, &client);
    }

    #[test]
    fn a_slow_or_silent_client_cannot_stall_the_accept_loop() {
        let timeout = Duration::from_millis(500);
        let server = ServerPool::builder()
            .tls(ServerTls::SelfSigned)
            .connect_timeout(timeout)
            .bind("127.0.0.1:0")
            .expect("bind");
        let addr = server.local_addr();

        let start = Instant::now();
        let mut stalled: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(addr).expect("connect"))
            .collect();
        // One more trickles a TLS record header, a byte every 100 ms: a
        // timeout per read would never fire, the deadline does.
        let slow = TcpStream::connect(addr).expect("connect");
        let mut trickle = slow.try_clone().expect("clone");
        stalled.push(slow);
        let trickler = thread::spawn(move || {
            for b in [
                0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
            ] {
                if trickle.write_all(&[b]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(100));
            }
        });

        // Meanwhile a real client is served at once.
        let client = client_of(&server)
            .min_capacity(1)
            .tls(TlsMode::Insecure)
            .start()
            .expect("start");
        let (_, mut near, mut far) = pair(&server, &client);
        let served = start.elapsed();
        assert!(served < timeout, "served after {served:?}");
        send(&mut near, &mut far, b"not held up");

        // The stalled handshakes end at the deadline.
        for tcp in &mut stalled {
            time_until_closed(tcp, WAIT);
        }
        let closed_after = start.elapsed();
        assert!(
            closed_after >= timeout - Duration::from_millis(50),
            "{closed_after:?}"
        );
        assert!(closed_after < timeout + MARGIN, "{closed_after:?}");
        trickler.join().expect("trickler");
        // None of the stalled ones made it into the stock.
        assert!(eventually(|| server.active() == client.active()));
    }

    /// `openssl s_server -tls1_3` for one connection, standing in for a
    /// NodePass server (Go, TLS 1.3 only): it relays its standard input to
    /// the client, so the test writes the ID there. Killed on drop.
    struct TlsServer13 {
        addr: SocketAddr,
        child: std::process::Child,
        _stdin: std::process::ChildStdin,
        _dir: TempDir,
    }

    impl TlsServer13 {
        fn start((cert, key): &(Vec<u8>, Vec<u8>), id: &[u8]) -> TlsServer13 {
            use std::io::BufRead;
            use std::process::Stdio;
            let dir = std::env::temp_dir()
                .join(format!("edgepool-tunnel-s_server-{}", std::process::id()));
            fs::create_dir_all(&dir).expect("scratch directory");
            let dir = TempDir(dir);
            fs::write(dir.0.join("cert.pem"), cert).expect("cert");
            fs::write(dir.0.join("key.pem"), key).expect("key");
            let mut child = Command::new("openssl")
                .args(["s_server", "-accept", "127.0.0.1:0", "-cert", "cert.pem"])
                .args(["-key", "key.pem", "-tls1_3", "-naccept", "1"])
                .current_dir(&dir.0)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("these tests need `openssl` ({e})"));
            let mut stdin = child.stdin.take().expect("piped stdin");
            // Relayed once a client has connected and finished its handshake.
            stdin.write_all(id).expect("write the ID");
            stdin.flush().expect("flush");
            let stdout = child.stdout.take().expect("piped stdout");
            let (tx, rx) = std::sync::mpsc::channel();
            // Reads s_server's output until it exits (so that it never blocks
            // on a full pipe) and passes on the listening address.
            thread::spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    if let Some(addr) = line.trim().strip_prefix("ACCEPT ") {
                        let _ = tx.send(addr.parse::<SocketAddr>());
                    }
                }
            });
            let addr = match rx.recv_timeout(WAIT) {
                Ok(Ok(addr)) => addr,
                other => {
                    let _ = child.kill();
                    panic!("openssl s_server did not start listening: {other:?}");
                }
            };
            TlsServer13 {
                addr,
                child,
                _stdin: stdin,
                _dir: dir,
            }
        }
    }

    impl TlsServer13 {
        fn stop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Drop for TlsServer13 {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    // ------------------------------------------------ TLS 1.3-only peers

    /// `tests/tls13_peer.py`: a NodePass-style peer in Python that speaks
    /// TLS 1.3 only (as NodePass's Go pool does), driven line by line over
    /// its standard input. Killed on drop.
    struct Peer13 {
        child: std::process::Child,
        stdin: std::process::ChildStdin,
        lines: std::sync::mpsc::Receiver<String>,
        /// `ID` lines that came while a command ran.
        ids: std::collections::VecDeque<String>,
        _dir: Option<TempDir>,
    }

    impl Peer13 {
        fn spawn(args: &[String], dir: Option<TempDir>) -> Peer13 {
            use std::io::BufRead;
            use std::process::Stdio;
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls13_peer.py");
            let mut child = Command::new("python3")
                .arg(script)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("these tests need python3 ({e}); on Debian: apt-get install python3")
                });
            let stdin = child.stdin.take().expect("piped stdin");
            let stdout = child.stdout.take().expect("piped stdout");
            let (tx, lines) = std::sync::mpsc::channel();
            thread::spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
            Peer13 {
                child,
                stdin,
                lines,
                ids: Default::default(),
                _dir: dir,
            }
        }

        /// A TLS 1.3-only server with the test CA's server certificate.
        fn server(format: &str) -> (Peer13, SocketAddr) {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "edgepool-tunnel-peer13-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&dir).expect("scratch directory");
            let dir = TempDir(dir);
            let (cert, key) = &certs().server;
            fs::write(dir.0.join("cert.pem"), cert).expect("cert");
            fs::write(dir.0.join("key.pem"), key).expect("key");
            let path = |f: &str| dir.0.join(f).to_string_lossy().into_owned();
            let args = [
                "server".into(),
                path("cert.pem"),
                path("key.pem"),
                format.into(),
            ];
            let mut peer = Peer13::spawn(&args, Some(dir));
            let port = peer.expect("LISTEN ");
            peer.expect("READY");
            (peer, format!("127.0.0.1:{port}").parse().expect("port"))
        }

        /// `n` TLS 1.3-only client connections to `server`; their IDs.
        fn client(server: &ServerPool, n: usize, format: &str) -> (Peer13, Vec<ConnId>) {
            let port = server.local_addr().port().to_string();
            let mut peer =
                Peer13::spawn(&["client".into(), port, n.to_string(), format.into()], None);
            let ids = (0..n).map(|_| peer.next_id()).collect();
            peer.expect("READY");
            (peer, ids)
        }

        /// The rest of the next line that starts with `prefix` (other lines
        /// are skipped); panics after 10 s.
        fn expect(&mut self, prefix: &str) -> String {
            if prefix == "ID " {
                if let Some(id) = self.ids.pop_front() {
                    return id;
                }
            }
            let end = Instant::now() + Duration::from_secs(10);
            loop {
                let left = end.saturating_duration_since(Instant::now());
                match self.lines.recv_timeout(left) {
                    Ok(line) => {
                        if let Some(rest) = line.strip_prefix(prefix) {
                            return rest.to_owned();
                        }
                    }
                    Err(e) => panic!("tls13_peer.py: no line {prefix:?}: {e:?}"),
                }
            }
        }

        fn next_id(&mut self) -> ConnId {
            self.expect("ID ").parse().expect("an ID")
        }

        /// Runs `cmd` on every connection the peer holds; the lines it
        /// printed meanwhile.
        fn run(&mut self, cmd: &str) -> Vec<String> {
            writeln!(self.stdin, "{cmd}").expect("tls13_peer.py's stdin");
            self.stdin.flush().expect("flush");
            let mut out = Vec::new();
            loop {
                let line = self
                    .lines
                    .recv_timeout(Duration::from_secs(10))
                    .unwrap_or_else(|e| panic!("tls13_peer.py: {cmd}: {e:?}"));
                if line == "OK" {
                    return out;
                }
                match line.strip_prefix("ID ") {
                    Some(id) => self.ids.push_back(id.to_owned()),
                    None => out.push(line),
                }
            }
        }
    }

    impl Drop for Peer13 {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    const FORMATS: [(IdFormat, &str); 2] = [(IdFormat::Bytes, "bytes"), (IdFormat::Hex, "hex")];

    #[test]
    fn a_tls13_only_client_gets_ids_and_data_flows_both_ways() {
        let certs = certs();
        let modes = [
            ServerTls::SelfSigned,
            ServerTls::Pem {
                cert: certs.server.0.clone(),
                key: certs.server.1.clone(),
            },
        ];
        for tls in modes {
            for (format, name) in FORMATS {
                let server = ServerPool::builder()
                    .tls(tls.clone())
                    .id_format(format)
                    .bind("127.0.0.1:0")
                    .expect("bind");
                let (mut peer, ids) = Peer13::client(&server, 3, name);
                assert_eq!(ids[0], ConnId::CONTROL, "{tls:?} {name}");
                peer.run("hello");
                for id in &ids {
                    let mut near = server.get_by_id(*id, WAIT).expect("get_by_id");
                    assert!(near.is_tls());
                    let mut line = vec![0u8; 15];
                    near.read_exact(&mut line).expect("the peer's hello");
                    assert_eq!(line, format!("hello {id}\n").into_bytes());
                    near.write_all(format!("pong {id}\n").as_bytes())
                        .expect("write");
                }
                let got = peer.run("read");
                let want: Vec<String> = ids.iter().map(|id| format!("GOT pong {id}")).collect();
                assert_eq!(got, want, "{tls:?} {name}");
            }
        }
    }

    #[test]
    fn the_server_pool_drops_tls13_clients_that_close_in_any_way() {
        let server = tls_server(ServerTls::SelfSigned);
        for how in ["close_notify", "fin", "rst"] {
            let (mut peer, _) = Peer13::client(&server, 4, "bytes");
            assert!(eventually(|| server.active() == 4), "{how}");
            peer.run(how);
            assert!(
                eventually_within(WAIT, || server.active() == 0),
                "{how}: {} still in stock",
                server.active()
            );
            let err = server.get_any(Duration::from_millis(50)).unwrap_err();
            assert!(matches!(err, Error::PoolTimeout { .. }), "{how}: {err:?}");
        }
    }

    #[test]
    fn the_client_pool_takes_ids_from_a_tls13_only_server_and_data_flows_both_ways() {
        for (format, name) in FORMATS {
            let (mut peer, addr) = Peer13::server(name);
            let client = ClientPool::builder(addr.to_string())
                .min_capacity(3)
                .max_capacity(3)
                .min_interval(Duration::from_millis(5))
                .max_interval(Duration::from_millis(50))
                .id_format(format)
                .tls(verified("localhost", &certs().ca))
                .start()
                .expect("start");
            let ids: Vec<ConnId> = (0..3).map(|_| peer.next_id()).collect();
            assert_eq!(ids[0], ConnId::CONTROL);
            assert!(eventually_within(WAIT, || client.active() == 3), "{name}");
            peer.run("hello");
            let mut conns = Vec::new();
            for id in &ids {
                let mut far = client.get_by_id(*id, WAIT).expect("get_by_id");
                let mut line = vec![0u8; 15];
                far.read_exact(&mut line).expect("the server's hello");
                assert_eq!(line, format!("hello {id}\n").into_bytes());
                far.write_all(format!("pong {id}\n").as_bytes())
                    .expect("write");
                conns.push(far);
            }
            let got = peer.run("read");
            let want: Vec<String> = ids.iter().map(|id| format!("GOT pong {id}")).collect();
            assert_eq!(got, want, "{name}");
            assert_eq!(client.errors(), 0, "{:?}", client.last_error());
        }
    }

    #[test]
    fn the_client_pool_redials_when_a_tls13_server_closes_all_its_connections() {
        let (mut peer, addr) = Peer13::server("bytes");
        let client = ClientPool::builder(addr.to_string())
            .min_capacity(4)
            .max_capacity(4)
            .min_interval(Duration::from_millis(5))
            .max_interval(Duration::from_millis(50))
            .tls(verified("localhost", &certs().ca))
            .start()
            .expect("start");
        let mut old: Vec<ConnId> = (0..4).map(|_| peer.next_id()).collect();
        assert!(eventually_within(WAIT, || client.active() == 4));
        // close_notify then FIN; FIN alone with the session tickets still
        // unread in the client's socket; RST.
        for how in ["close_notify", "fin", "rst"] {
            peer.run(how);
            let new: Vec<ConnId> = (0..4).map(|_| peer.next_id()).collect();
            assert!(
                eventually_within(WAIT, || client.active() == 4),
                "{how}: {} stocked",
                client.active()
            );
            for id in &old {
                let gone = client.get_by_id(*id, Duration::from_millis(1));
                assert!(gone.is_err(), "{how}: {id} was closed by the server");
            }
            for id in &new {
                let mut conn = client.get_by_id(*id, WAIT).expect("a redialled connection");
                conn.write_all(b"x").expect("alive");
            }
            // Taking them made the client dial 4 more.
            old = (0..4).map(|_| peer.next_id()).collect();
        }
    }

    #[test]
    fn the_client_reads_the_id_after_a_tls13_handshake_with_session_tickets() {
        let certs = certs();
        let server = TlsServer13::start(&certs.server, b"1234");
        let client = ClientPool::builder(server.addr.to_string())
            .min_capacity(1)
            .max_capacity(1)
            .min_interval(Duration::from_millis(5))
            .tls(verified("localhost", &certs.ca))
            .start()
            .expect("start");
        assert!(eventually_within(WAIT, || client.active() == 1));
        // Many rounds look at the stocked connection: the session tickets
        // that came with the handshake do not make it look closed.
        thread::sleep(Duration::from_millis(100));
        let id: ConnId = "31323334".parse().unwrap(); // "1234"
        let conn = client.get(id, WAIT).expect("the connection s_server named");
        assert!(conn.is_tls());
        assert_eq!(client.errors(), 0, "{:?}", client.last_error());
    }

    #[test]
    fn payload_already_decrypted_with_the_id_is_not_lost_when_the_server_hangs_up() {
        // One TLS record holds the ID and the payload: reading the ID leaves
        // the payload inside the TLS library, not in the socket.
        let certs = certs();
        let mut server = TlsServer13::start(&certs.server, b"1234payload");
        let client = ClientPool::builder(server.addr.to_string())
            .min_capacity(1)
            .max_capacity(1)
            .min_interval(Duration::from_millis(5))
            .tls(verified("localhost", &certs.ca))
            .start()
            .expect("start");
        assert!(eventually_within(WAIT, || client.active() == 1));
        server.stop(); // the socket now shows only the end of the stream
        thread::sleep(Duration::from_millis(100)); // many sweeps
        let mut conn = client
            .get("31323334".parse().unwrap(), WAIT)
            .expect("kept: it holds payload");
        let mut got = [0u8; 7];
        conn.read_exact(&mut got).expect("the payload");
        assert_eq!(&got, b"payload");
    }

    #[test]
    fn tls_bytes_sent_early_are_not_lost() {
        let server = tls_server(ServerTls::SelfSigned);
        let client = client_of(&server)
            .min_capacity(2)
            .tls(TlsMode::Insecure)
            .start()
            .expect("start");
        let (id, mut near) = server.get(WAIT).expect("get");
        near.write_all(b"early over TLS").unwrap();
        thread::sleep(Duration::from_millis(200)); // many manager rounds look at it
        let mut far = client.get(id, WAIT).expect("still in stock");
        let mut got = [0u8; 14];
        far.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"early over TLS");
        client.close();

        // Client → server before the server hands the connection out.
        let opts = edgepool::net::ConnectOptions::default();
        let mut early = Stream::open(
            &server.local_addr().to_string(),
            &opts.clone().tls(TlsMode::Insecure),
        )
        .expect("connect");
        let mut id = [0u8; 4];
        early.read_exact(&mut id).unwrap();
        early.write_all(b"from the client").unwrap();
        thread::sleep(Duration::from_millis(50));
        let (got_id, mut near) = loop {
            let (got_id, near) = server.get(WAIT).expect("get");
            if got_id == ConnId::from_bytes(id) {
                break (got_id, near);
            }
        };
        assert_eq!(got_id, ConnId::from_bytes(id));
        let mut got = [0u8; 15];
        near.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"from the client");
    }

    #[test]
    fn get_skips_tls_connections_closed_with_or_without_close_notify() {
        let server = tls_server(ServerTls::SelfSigned);
        let addr = server.local_addr().to_string();
        let opts = edgepool::net::ConnectOptions::default();
        let dial = || {
            let mut s = Stream::open(&addr, &opts.clone().tls(TlsMode::Insecure)).expect("connect");
            let mut id = [0u8; 4];
            s.read_exact(&mut id).expect("id");
            (s, ConnId::from_bytes(id))
        };
        let (polite, _) = dial();
        let (rude, _) = dial();
        let (_alive, alive_id) = dial();
        assert!(eventually(|| server.active() == 3));
        match polite {
            Stream::Tls(mut tls) => tls.shutdown().expect("close_notify"),
            _ => unreachable!("a TLS stream"),
        }
        drop(rude); // no close_notify, just the end of the TCP stream
        thread::sleep(Duration::from_millis(50));
        let (id, _) = server.get(WAIT).expect("get");
        assert_eq!(id, alive_id, "both closed connections were skipped");
    }
}
