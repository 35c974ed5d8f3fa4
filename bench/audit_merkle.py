"""Audit Merkle tree benchmark: the pure tree work behind the audit log, at a million entries.

1. Hash N entries as leaves, then append them to a `Frontier`, keeping every perfect subtree it
   completes in a dict (what the storage layer writes as it appends).
2. The root: from the frontier, and from the stored subtrees.
3. Inclusion proofs for random leaves and consistency proofs from random earlier sizes to N,
   generated from the dict-backed subtree accessor, then verified: µs per operation.
4. `hub audit verify`'s tree work: recomputing the root from all N leaf hashes, and locating
   a changed entry with `first_divergence`.

    .venv/bin/python bench/audit_merkle.py [--leaves 1000000] [--samples 10000]

No database; prints figures, asserts only that the proofs verify.
"""

from __future__ import annotations

import argparse
import platform
import random
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.domain.audit.merkle import (  # noqa: E402
    Frontier,
    consistency_proof_from_subtrees,
    first_divergence,
    inclusion_proof_from_subtrees,
    leaf_hash,
    root_from_leaves,
    root_from_subtrees,
    verify_consistency,
    verify_inclusion,
)

T = TypeVar("T")


def timed(label: str, action: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = action()
    print(f"{label:<58} {time.perf_counter() - started:9.3f} s")
    return result


def per_op(label: str, count: int, seconds: float) -> None:
    print(f"{label:<58} {seconds / count * 1e6:9.1f} µs/op  ({count} ops)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n, samples = args.leaves, args.samples
    rng = random.Random(args.seed)
    print(f"Python {platform.python_version()} on {platform.machine()}, {n} leaves\n")

    entries = [b'{"kind":"disclosure","seq":%d}' % i for i in range(n)]
    leaves = timed(f"leaf-hash {n} entries", lambda: [leaf_hash(e) for e in entries])

    frontier = Frontier()

    def build_frontier_only() -> None:
        for h in leaves:
            frontier.append(h)

    timed(f"append {n} leaves to a Frontier", build_frontier_only)

    store: dict[tuple[int, int], bytes] = {}
    stored_frontier = Frontier()

    def build_and_store() -> None:
        for h in leaves:
            for level, index, node in stored_frontier.append(h):
                store[(level, index)] = node

    timed(f"append {n} leaves, keeping every completed subtree", build_and_store)
    print(f"{'stored perfect subtrees':<58} {len(store):9d}")

    def get(level: int, index: int) -> bytes:
        return store[(level, index)]

    root = frontier.root()
    reps = 10_000
    started = time.perf_counter()
    for _ in range(reps):
        frontier.root()
    per_op("root from the frontier", reps, time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(reps):
        assert root_from_subtrees(get, n) == root
    per_op("root from stored subtrees", reps, time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(reps):
        Frontier.from_json(frontier.to_json())
    per_op("frontier to JSON and back", reps, time.perf_counter() - started)
    print()

    indices = [rng.randrange(n) for _ in range(samples)]
    started = time.perf_counter()
    proofs = [inclusion_proof_from_subtrees(get, i, n) for i in indices]
    per_op("inclusion proof generation (dict accessor)", samples, time.perf_counter() - started)
    started = time.perf_counter()
    for i, proof in zip(indices, proofs, strict=True):
        assert verify_inclusion(leaves[i], i, n, proof, root)
    per_op("inclusion proof verification", samples, time.perf_counter() - started)
    print(f"{'inclusion proof length':<58} {max(len(p) for p in proofs):9d} hashes")

    old_sizes = [rng.randrange(1, n) for _ in range(samples)]
    started = time.perf_counter()
    old_roots = [root_from_subtrees(get, m) for m in old_sizes]
    per_op("earlier root from stored subtrees", samples, time.perf_counter() - started)
    started = time.perf_counter()
    consistency = [consistency_proof_from_subtrees(get, m, n) for m in old_sizes]
    per_op("consistency proof generation (dict accessor)", samples, time.perf_counter() - started)
    started = time.perf_counter()
    for m, old_root, proof in zip(old_sizes, old_roots, consistency, strict=True):
        assert verify_consistency(m, n, old_root, root, proof)
    per_op("consistency proof verification", samples, time.perf_counter() - started)
    print(f"{'consistency proof length':<58} {max(len(p) for p in consistency):9d} hashes")
    print()

    assert (
        timed(f"recompute the root from {n} leaf hashes", lambda: root_from_leaves(leaves)) == root
    )
    tampered = list(leaves)
    victim = rng.randrange(n)
    tampered[victim] = leaf_hash(b"altered")
    found = timed(
        "first_divergence for one changed entry", lambda: first_divergence(tampered, get, n)
    )
    assert found == victim, (found, victim)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MiB (leaf hashes and stored subtrees held in memory)")


if __name__ == "__main__":
    main()
