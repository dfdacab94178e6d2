//! Pre-warmed tunnel connection pools with connection IDs. Work in progress.
