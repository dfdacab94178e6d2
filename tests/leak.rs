//! Background threads and sockets do not grow with the number of pools, and
//! go away with the pools. Alone in its binary: it counts the process's threads.

mod common;
use common::eventually_within;

use edgepool::{tcp, Pool, PoolSet};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("this test needs Linux /proc")
        .count()
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("this test needs Linux /proc")
        .count()
}

#[test]
fn pools_share_background_threads_and_leave_nothing_behind() {
    // A loopback server that accepts and closes at once; started before the
    // baseline so its thread is part of it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for s in listener.incoming() {
            drop(s);
        }
    });
    thread::sleep(Duration::from_millis(50));
    let base_threads = threads();
    let base_fds = fds();

    for round in 0..2 {
        // 100 pools alive at once, each with a connection opened and returned.
        let pools: Vec<_> = (0..100)
            .map(|_| {
                Pool::builder()
                    .max_size(2)
                    .min_idle(1)
                    .health_check_interval(Some(Duration::from_millis(50)))
                    .max_idle_time(Some(Duration::from_millis(200)))
                    .build(tcp::Manager::new(tcp::Config::new(addr.clone())))
                    .unwrap()
            })
            .collect();
        for p in &pools {
            drop(p.get().unwrap());
        }
        thread::sleep(Duration::from_millis(200));
        let during = threads();
        // One reaper and the worker pool (3), however many pools.
        assert!(
            during <= base_threads + 4,
            "round {round}: {during} threads with 100 pools, {base_threads} before"
        );
        drop(pools);
        assert!(
            eventually_within(Duration::from_secs(3), || threads() == base_threads),
            "round {round}: {} threads after dropping the pools, {base_threads} before",
            threads()
        );
        assert!(
            eventually_within(Duration::from_secs(3), || fds() == base_fds),
            "round {round}: {} fds after dropping the pools, {base_fds} before",
            fds()
        );
    }

    // The same through a PoolSet of 100 targets, and closed pools.
    let keys: Vec<String> = (0..100).map(|i| format!("{addr}#{i}")).collect();
    let set = PoolSet::new(Pool::builder().max_size(1), {
        let addr = addr.clone();
        move |_: &String| tcp::Manager::new(tcp::Config::new(addr.clone()))
    });
    for k in &keys {
        drop(set.get(k).unwrap());
    }
    assert!(threads() <= base_threads + 4);
    set.close();
    drop(set);
    assert!(eventually_within(Duration::from_secs(3), || threads() == base_threads));
    assert!(eventually_within(Duration::from_secs(3), || fds() == base_fds));
}
