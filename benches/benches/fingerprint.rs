//! Chunk fingerprinting throughput on 4 MiB buffers (about one 4 s segment of a 1080p rung
//! at 8 Mb/s).
//!
//! - `sha2_digest`: `sha2::Sha256::digest`, the floor.
//! - `sha256_digest_of`: `manifest::model::Sha256Digest::of`, what the packager calls
//!   (through a private one-line helper) for every media segment.
//! - `appsink_gather_copy_hash`: the whole per-fragment path of the packager's appsink
//!   callback, rebuilt here with the same copies: the fragment arrives as a list of
//!   sample-sized buffers, is gathered into one `Vec`, the fragment's byte range is copied
//!   out again (`to_vec`) and then hashed. The box walk that finds the range is left out
//!   (it reads a few headers). Shows what the two copies add to the hash.
//!
//! Every variant hashes the same four 4 MiB buffers in turn, so no buffer sits in cache
//! from the previous iteration.
//!
//! `cargo bench -p vodpipe-benches --bench fingerprint`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use manifest::model::Sha256Digest;
use sha2::{Digest, Sha256};

const BUFFER_BYTES: usize = 4 << 20;
const BUFFERS: usize = 4;
/// A 1080p sample at 5 Mb/s and 30 fps is about 21 KB.
const SAMPLE_BYTES: usize = 21_000;

/// Incompressible bytes without a random-number crate (xorshift64*).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn bench_fingerprint(c: &mut Criterion) {
    let buffers: Vec<Vec<u8>> = (0..BUFFERS as u64).map(|s| noise(0x9e37_79b9 + s, BUFFER_BYTES)).collect();
    // Both functions must agree before their speeds are compared.
    for b in &buffers {
        let raw: [u8; 32] = Sha256::digest(b).into();
        assert_eq!(Sha256Digest::of(b).0, raw);
    }
    let lists: Vec<Vec<&[u8]>> = buffers.iter().map(|b| b.chunks(SAMPLE_BYTES).collect()).collect();

    let mut g = c.benchmark_group("sha256_4MiB");
    g.throughput(Throughput::Bytes(BUFFER_BYTES as u64));
    let mut i = 0;
    g.bench_function("sha2_digest", |b| {
        b.iter(|| {
            i = (i + 1) % BUFFERS;
            Sha256::digest(black_box(&buffers[i]))
        })
    });
    let mut i = 0;
    g.bench_function("sha256_digest_of", |b| {
        b.iter(|| {
            i = (i + 1) % BUFFERS;
            Sha256Digest::of(black_box(&buffers[i]))
        })
    });
    let mut i = 0;
    g.bench_function("appsink_gather_copy_hash", |b| {
        b.iter(|| {
            i = (i + 1) % BUFFERS;
            let mut gathered = Vec::new();
            for sample in black_box(&lists[i]) {
                gathered.extend_from_slice(sample);
            }
            let chunk = gathered[..].to_vec();
            (Sha256Digest::of(&chunk), chunk.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_fingerprint);
criterion_main!(benches);
