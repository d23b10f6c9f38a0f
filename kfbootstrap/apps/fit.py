"""Would a choice of apps fit this machine? Requests compared with what Docker (or the host) offers.

All Kind nodes are containers on one Docker engine, and each reports the engine's whole
memory as its capacity: the scheduler would happily over-commit three times. So we
compare the sum of every request with the engine's memory and CPUs once, and keep a
quarter of the memory free for what requests do not cover (the kernel, Docker, the
kubelets, etcd's growth, and pods using more than they request).
"""

from __future__ import annotations

from dataclasses import dataclass

from kfbootstrap.apps.measure import Totals

GIB = 2**30
MIB = 2**20

# Kind's own pods (kubeadm's static pod manifests, CoreDNS and kindnet as kind deploys them):
# requests per cluster, and per node for the DaemonSets.
SYSTEM_CPU = 0.25 + 0.2 + 0.1 + 0.1 + 2 * 0.1  # apiserver, controller-manager, scheduler, etcd, 2 CoreDNS
SYSTEM_MEMORY = 100 * MIB + 2 * 70 * MIB  # etcd, 2 CoreDNS
NODE_CPU = 0.1  # kindnet
NODE_MEMORY = 50 * MIB  # kindnet
HEADROOM = 0.75  # share of the machine's memory requests may take and still be called a fit

FITS, TIGHT, NO = "fits", "tight", "does not fit"


@dataclass(frozen=True)
class Fit:
    verdict: str  # FITS, TIGHT or NO
    memory: float  # bytes requested, Kind's own pods included
    cpu: float
    have_memory: float | None
    have_cpu: int | None

    def describe(self) -> str:
        if self.have_memory is None:
            return f"needs {self.memory / GIB:.1f} GiB and {self.cpu:.1f} CPUs requested (machine unknown)"
        return (
            f"{self.verdict}: {self.memory / GIB:.1f} GiB and {self.cpu:.1f} CPUs requested, "
            f"{self.have_memory / GIB:.1f} GiB and {self.have_cpu} CPUs available"
        )


def with_system(totals: Totals, nodes: int) -> tuple[float, float]:
    """(memory, cpu) requested in all, Kind's own pods included."""
    return (totals.total_memory + SYSTEM_MEMORY + nodes * NODE_MEMORY, totals.total_cpu + SYSTEM_CPU + nodes * NODE_CPU)


def fit(totals: Totals, nodes: int, have_memory_gib: float | None, have_cpus: int | None) -> Fit:
    """FITS within the headroom, TIGHT up to all memory (or more CPU requested than there are CPUs), else NO."""
    memory, cpu = with_system(totals, nodes)
    if not have_memory_gib:
        return Fit(TIGHT, memory, cpu, None, have_cpus)
    have = have_memory_gib * GIB
    if memory > have:
        verdict = NO
    elif memory > HEADROOM * have or (have_cpus is not None and cpu > have_cpus):
        verdict = TIGHT
    else:
        verdict = FITS
    return Fit(verdict, memory, cpu, have, have_cpus)
