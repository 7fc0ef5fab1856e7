//! `taskdeck bench`: measurements that print figures (never pass/fail), each side by side with
//! the baseline it is compared to. Benchmarks start the real binary and talk to it as any
//! client does; where they measure a database itself (seeding, the COPY ceiling, a naive
//! count) they reach it through the store's pool.

pub mod ingest;
pub mod live;
pub mod proc;
pub mod search;
pub mod series;
pub mod worker;
