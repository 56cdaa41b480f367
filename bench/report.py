#!/usr/bin/env python3
"""Turn bench/run.sh's raw results into docs/benchmarks.md and its PNG.

    bench/report.py RESULTS_DIR DOC.md

RESULTS_DIR holds results.csv, meta.env, malloc.txt, commands.log and fio/.
The PNG is written next to the document (same name, .png) by bench/plot.gp.
"""
import csv
import os
import statistics
import subprocess
import sys
from collections import defaultdict

RSS_TARGET_KB = 16 * 1024

# SPDK v26.05 vhost-scsi with a 1 GiB Malloc bdev, measured on a machine of
# this kind on 2026-12-01 with the same engine and pinning (issue 14): SPDK is
# not packaged for Debian, so its figures are the bar rather than a column of
# every run.  SPDK_DAY_OURS is our ram LUN in that same run (issue 14's
# table): how far this run's machine is from that day's shows against it.
# (rw, qd) -> (IOPS, backend CPU us per I/O); it busy-polls one core, so at
# QD 1 its CPU per I/O is that core's whole second over its IOPS.
SPDK_BAR = {
    ("randread", 1): (52e3, 1e6 / 52e3), ("randread", 32): (796e3, 1.28), ("randread", 128): (827e3, 1.23),
    ("randwrite", 1): (56e3, 1e6 / 56e3), ("randwrite", 32): (996e3, 1.03), ("randwrite", 128): (1076e3, 0.95),
}
SPDK_DAY_OURS = {
    ("randread", 1): 64e3, ("randread", 32): 1027e3, ("randread", 128): 1207e3,
    ("randwrite", 1): 61e3, ("randwrite", 32): 1245e3, ("randwrite", 128): 1173e3,
}
SPDK_IOPS_TARGET = 1.5
LARGE_FLOOR_TARGET = 1.10


def read_env(path):
    env = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    env[k] = v
    return env


def load(results):
    rows = defaultdict(list)
    with open(os.path.join(results, "results.csv")) as f:
        for r in csv.DictReader(f):
            key = (r["impl"], r["lun"], int(r["queues"]), int(r["threads"]), r["rw"], int(r["qd"]))
            rows[key].append(r)
    return rows


def mean(rs, field):
    return statistics.mean(float(r[field]) for r in rs)


def spread(rs, field):
    """Max-min across runs in percent of the mean: how far to trust a ratio."""
    vals = [float(r[field]) for r in rs]
    m = statistics.mean(vals)
    return 100.0 * (max(vals) - min(vals)) / m if m else 0.0


def run_ratios(a, b):
    """IOPS of a over b, run by run: the two were measured back to back in each run."""
    by_run = {x["run"]: float(x["iops"]) for x in b}
    return [float(x["iops"]) / by_run[x["run"]] for x in a if by_run.get(x["run"])]


def spread_txt(rs):
    return f"{spread(rs, 'iops'):.0f}%" if len(rs) > 1 else "-"


def cfg_name(impl, lun, q, t):
    if impl == "contrib":
        return "contrib+tgt (ram)"
    if impl == "spdk":
        return "SPDK vhost-scsi (Malloc bdev)"
    if impl == "ours-irq":
        return f"ours {lun} {q}q/{t}t, --poll-us 0"
    return f"ours {lun} {q}q/{t}t"


def copy_floor_fields(line):
    """One bench/copy_floor line as {field: value}."""
    return dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)


def read_copy_floor(path):
    """bench/copy_floor's lines: {'4k': ns, 'thp': ns} per 4 KiB copy."""
    floor = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                kv = copy_floor_fields(line)
                if "pages" in kv and "ns_per_copy" in kv:
                    floor[kv["pages"]] = float(kv["ns_per_copy"])
    return floor


def load_scaling(path):
    """bench/scaling.sh's rows by (rw, bs) and thread count."""
    out = defaultdict(lambda: defaultdict(list))
    if os.path.exists(path):
        with open(path) as f:
            for r in csv.DictReader(f):
                out[(r["rw"], r["bs"])][int(r["threads"])].append(r)
    return out


def guest_pinning(results):
    """How bench/guest.sh placed the backend and QEMU (guest.env; runs before it had none: unpinned)."""
    path = os.path.join(results, "guest.env")
    if os.path.exists(path) and read_env(path).get("pin") == "1":
        return ("The backend runs on CPU 0 and QEMU on CPU 1 (`taskset`; for QEMU's built-in device its "
                "iothread is moved to CPU 0).")
    return ("Neither the backend nor QEMU is pinned: they share both CPUs (`BENCH_GUEST_PIN=0`, or a run "
            "from before bench/guest.sh pinned them).")


def load_large(results):
    """bench/large.sh's rows by (rw, bs), and its copy floor (us per MiB) by (rw, bs), mean of its runs."""
    rows, floor = defaultdict(list), defaultdict(list)
    path = os.path.join(results, "large.csv")
    if not os.path.exists(path):
        return rows, {}
    with open(path) as f:
        for r in csv.DictReader(f):
            rows[(r["rw"], r["bs"])].append(r)
    with open(os.path.join(results, "large_floor.txt")) as f:
        for line in f:
            kv = copy_floor_fields(line)
            bs = kv["bs"]
            # fio's spelling of the block size, as large.csv has it.
            name = f"{int(bs) >> 20}m" if int(bs) >= 1 << 20 else f"{int(bs) >> 10}k"
            # Lines before copy= was printed were all memcpy.
            floor[(kv["dir"], name, kv.get("copy", "memcpy"))].append(float(kv["us_per_mib"]))
    return rows, {k: statistics.mean(v) for k, v in floor.items()}


def daemon_copy(rw, lun_bytes):
    """The copy the ram backend does: writes to a disk of 64 MiB or more with non-temporal stores."""
    return "nt" if rw == "write" and lun_bytes >= 64 << 20 else "memcpy"


def bs_bytes(bs):
    return int(bs[:-1]) << (20 if bs.endswith("m") else 10)


def size_bytes(size):
    """A size as the scripts spell it (512, 64k, 256M, 1G) in bytes."""
    shift = {"k": 10, "m": 20, "g": 30, "t": 40}.get(size[-1:].lower())
    return int(size[:-1]) << shift if shift else int(size)


def fmt_iops(v):
    return f"{v / 1000:.1f}k"


def verdict(value, target, higher_is_better=True, unit="x"):
    ok = value >= target if higher_is_better else value <= target
    if ok:
        return "met"
    miss = (target - value) / target * 100 if higher_is_better else (value - target) / target * 100
    return f"**missed by {miss:.0f}%**"


def main():
    results, doc = sys.argv[1], sys.argv[2]
    meta = read_env(os.path.join(results, "meta.env"))
    mall = read_env(os.path.join(results, "malloc.txt"))
    rows = load(results)
    label = meta.get("label", "?")
    floor = read_copy_floor(os.path.join(results, "copy_floor.txt"))
    impls = ("ours", "ours-irq", "contrib", "spdk")
    qds = sorted({k[5] for k in rows if k[0] in impls})
    rws = [rw for rw in ("randread", "randwrite") if any(k[4] == rw for k in rows)]
    configs = []
    for k in rows:
        c = k[:4]
        if k[0] in impls and c not in configs:
            configs.append(c)
    order = {"ours": 0, "ours-irq": 1, "contrib": 2, "spdk": 3}
    configs.sort(key=lambda c: (order[c[0]], c[1], c[2], c[3]))

    def get(c, rw, qd):
        return rows.get(c + (rw, qd))

    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    if label != "full":
        w(f"> **Preliminary ({label}) run.** {meta.get('runtime')} s per point, {meta.get('runs')} run(s), "
          f"on a shared machine while other engineers were building and testing "
          f"(load average {meta.get('load_before')} before, {meta.get('load_after')} after, "
          f"{meta.get('cpus')} CPUs). It validates the pipeline end to end; the numbers are noisy and only "
          f"indicative: with one short run per point, differences of a few tens of percent are within its noise "
          f"(compare neighbouring rows of one configuration), so the verdicts below are provisional. The "
          f"reference figures come from `make bench` (30 s x 2 runs) on a quiet machine.")
        w("")
    w("Generated by `bench/report.py` from `bench/run.sh`'s raw results; do not edit by hand, rerun "
      "`make bench` (or `make bench-quick`).")
    w("")
    # Its own run and generator (make bench-nvme): only linked from here.
    w("The NVMe backend's benchmark (through VFIO, in a TCG guest) has its own page: "
      "[benchmarks-nvme.md](benchmarks-nvme.md) (`make bench-nvme`).")
    w("")
    w("Remote storage (iSCSI, Ceph RBD) against qemu-storage-daemon's own drivers, in a TCG guest, has its own "
      "page too: [benchmarks-remote.md](benchmarks-remote.md) (`make bench-remote`).")
    w("")
    w("## What is measured")
    w("")
    w("VM-free: fio drives the daemon through our vhost-user frontend (`build/fio-vhost-user-scsi.so`, "
      "see `tools/fio/` and `frontend/README.md`); one fio job per request queue (`--thread --numjobs=Q`), "
      "**QD is per queue** (fio's `iodepth`). 4 KiB random read and random write, "
      f"QD {', '.join(map(str, qds))}, {meta.get('runtime')} s per point, {meta.get('runs')} run(s); "
      "run *n* of every point is done before run *n+1* of any, and within a run each point is taken for our "
      "configurations back to back (their daemons all up, the order reversed every other run), so drift hits "
      "all configurations alike. "
      f"LUN size {meta.get('lun_size')}; the RAM disk and tgt's image are fully written before any read.")
    w("")
    w("- IOPS, mean and p99 latency: fio's `lat_ns` (submission to completion as the engine sees it).")
    w("- CPU per I/O: the backend's utime+stime from `/proc/PID/stat` over the point divided by fio's "
      "completed I/Os. For contrib it is the sample **plus tgtd** (both are the backend there).")
    w("- RSS: sum of `Rss` in `/proc/PID/smaps` sampled mid-run, **without guest memory** (the frontend's "
      "memfd mappings). The RAM disk's data mapping is reported on its own (`of which LUN data`).")
    w("")
    w(f"Machine: {meta.get('cpu_model')}, {meta.get('cpus')} CPUs, kernel {meta.get('kernel')}; "
      f"{meta.get('fio')}, gcc {meta.get('gcc')}, tgt {meta.get('tgt')}, libiscsi {meta.get('libiscsi')}; "
      f"tree at {meta.get('commit')} with {meta.get('dirty_files')} uncommitted file(s); {meta.get('date')}. "
      + ("The backend (the daemon, or contrib and tgtd) runs on CPU 0 and fio on CPU 1 (`taskset`): one core "
         "each, as a fair one-core comparison needs; a 2-queue configuration has 2 fio jobs on CPU 1."
         if meta.get("pinned") == "1" else
         "Not pinned (BENCH_PIN=0 or one CPU): fio and the backend share the CPUs."))
    w("")

    for rw in rws:
        w(f"## {rw}, 4 KiB")
        w("")
        w("| configuration | QD | IOPS | spread | mean lat (us) | p99 lat (us) | CPU us/IO | RSS (MiB) | of which LUN data |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in configs:
            for qd in qds:
                rs = get(c, rw, qd)
                if not rs:
                    continue
                w(f"| {cfg_name(*c)} | {qd} | {fmt_iops(mean(rs, 'iops'))} | {spread_txt(rs)} | "
                  f"{mean(rs, 'lat_mean_us'):.1f} | {mean(rs, 'lat_p99_us'):.1f} | "
                  f"{mean(rs, 'cpu_us_per_io'):.2f} | {mean(rs, 'rss_kb') / 1024:.1f} | "
                  f"{mean(rs, 'lun_data_kb') / 1024:.1f} |")
        w("")

    def compare(title, intro, a_cfg, b_cfg, a_name, b_name, digits):
        """A table of a against b, point by point, with the ratios."""
        if not any(k[:4] == b_cfg for k in rows):
            return
        w(f"## {title}")
        w("")
        w(intro)
        w("")
        w(f"| rw | QD | {a_name} IOPS | {b_name} IOPS | ratio | mean lat (us) {a_name} / {b_name} | "
          f"CPU us/IO {a_name} / {b_name} | CPU ratio |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        for rw in rws:
            for qd in qds:
                a, b = get(a_cfg, rw, qd), get(b_cfg, rw, qd)
                if not a or not b:
                    continue
                ia, ib = mean(a, "iops"), mean(b, "iops")
                ca, cb = mean(a, "cpu_us_per_io"), mean(b, "cpu_us_per_io")
                w(f"| {rw} | {qd} | {fmt_iops(ia)} | {fmt_iops(ib)} | {ia / ib:.{digits}f}x | "
                  f"{mean(a, 'lat_mean_us'):.1f} / {mean(b, 'lat_mean_us'):.1f} | {ca:.2f} / {cb:.2f} | "
                  f"{(ca / cb if cb else 0):.2f} |")
        w("")

    ours1, null1 = ("ours", "ram", 1, 1), ("ours", "null", 1, 1)
    compare("Ours vs QEMU's contrib/vhost-user-scsi",
            "Same engine, same run, one queue each; ours is the ram LUN with 1 queue/1 thread, contrib forwards "
            "every command synchronously over iSCSI to tgt on 127.0.0.1 (RAM-backed file in /dev/shm). "
            "contrib's CPU is the sample's plus tgtd's.",
            ours1, ("contrib", "ram", 1, 1), "ours", "contrib", 1)
    compare("Adaptive polling vs interrupt mode",
            "The ram LUN, 1 queue/1 thread, with the daemon's default `--poll-us 32` (a worker keeps looking at "
            "its rings for up to 32 us after the last request before it sleeps; the window adapts, see "
            "`src/io/poll_window.h`) and with `--poll-us 0` (sleep at once: every request needs a kick). "
            "CPU per I/O includes the time spent polling. It is one daemon and one RAM disk, switched between "
            "the two modes at run time (`worker_set_poll`) so that each interrupt-mode point is taken right "
            "next to its polling point: neither the machine's drift over minutes nor where the host put the "
            "disk's memory enters the ratio.",
            ours1, ("ours-irq", "ram", 1, 1), "polling", "interrupt", 2)

    scaling = load_scaling(os.path.join(results, "scaling.csv"))
    if scaling:
        w("## Worker-thread scaling where the daemon is the bottleneck")
        w("")
        sm = read_env(os.path.join(results, "scaling.env"))
        w("At 4 KiB on this machine fio's threads need about as much CPU as the daemon, so a second daemon "
          "thread has no CPU to scale into (see the targets). `bench/scaling.sh` therefore also runs the ram "
          "LUN with 2 queues at QD32 and larger requests, where the daemon's copies dominate, with 1 and then "
          f"2 worker threads in alternated runs ({sm.get('runtime', '?')} s per point, {sm.get('runs', '?')} "
          f"run(s), tree at {sm.get('commit', '?')} with {sm.get('dirty_files', '?')} uncommitted file(s), "
          f"{sm.get('date', '?')}):")
        w("")
        w("| rw | bs | threads | IOPS | MiB/s | daemon CPU us/IO | 2 threads / 1 |")
        w("|---|---|---:|---:|---:|---:|---:|")
        for (rw, bs), by_t in sorted(scaling.items()):
            for t in sorted(by_t):
                rs = by_t[t]
                ratio = mean(rs, "iops") / mean(by_t[1], "iops") if t == 2 and 1 in by_t else None
                w(f"| {rw} | {bs} | {t} | {fmt_iops(mean(rs, 'iops'))} | {mean(rs, 'mib_s'):.0f} | "
                  f"{mean(rs, 'cpu_us_per_io'):.2f} | {f'{ratio:.2f}x' if ratio else ''} |")
        w("")

    spdk_rows = []
    spdk_cfg = ("spdk", "ram", 1, 1)
    spdk_here = any(k[:4] == spdk_cfg for k in rows)
    if spdk_here or any(get(ours1, rw, qd) for (rw, qd) in SPDK_BAR):
        w("## Against SPDK vhost-scsi")
        w("")
        if spdk_here:
            w(f"SPDK {meta.get('spdk', '?')} vhost-scsi (built outside this project against Debian's DPDK "
              f"{meta.get('dpdk', '?')}, local build changes: {meta.get('spdk_local_changes') or 'none'}), "
              f"a Malloc bdev of {meta.get('lun_size')} (512-byte blocks) as target 0, its reactor on CPU 0 "
              "(`-m 0x1`, busy-polling), measured in this run at every point right beside our configurations "
              "(`BENCH_SPDK`, see bench/run.sh), with the same engine and pinning; it is kept stopped (SIGSTOP) "
              "outside its own points so that its polling does not take our daemon's CPU. Its CPU per I/O is "
              "its whole process's utime+stime, like ours. Ours is the ram LUN, 1 queue, 1 thread, default "
              "polling.")
            w("")
            w("| rw | QD | ours IOPS | SPDK IOPS | ratio | runs | ours CPU us/IO | SPDK CPU us/IO | CPU ratio |")
            w("|---|---:|---:|---:|---:|---|---:|---:|---:|")
            for rw in rws:
                for qd in qds:
                    rs, ss = get(ours1, rw, qd), get(spdk_cfg, rw, qd)
                    if not rs or not ss:
                        continue
                    io, siops = mean(rs, "iops"), mean(ss, "iops")
                    cpu, scpu = mean(rs, "cpu_us_per_io"), mean(ss, "cpu_us_per_io")
                    runs = ", ".join(f"{p:.2f}" for p in run_ratios(rs, ss))
                    w(f"| {rw} | {qd} | {fmt_iops(io)} | {fmt_iops(siops)} | {io / siops:.2f}x | {runs} | "
                      f"{cpu:.2f} | {scpu:.2f} | {cpu / scpu:.2f} |")
                    spdk_rows.append(f"| IOPS >= {SPDK_IOPS_TARGET}x SPDK's, ram 1q/1t, {rw} QD{qd} | "
                                     f"{io / siops:.2f}x ({fmt_iops(io)}) | {verdict(io / siops, SPDK_IOPS_TARGET)} |")
                    spdk_rows.append(f"| CPU per I/O below SPDK's, ram 1q/1t, {rw} QD{qd} | {cpu / scpu:.2f}x "
                                     f"({cpu:.2f} us) | {verdict(cpu / scpu, 1.0, higher_is_better=False)} |")
            w("")
        else:
            w("SPDK is not packaged for Debian and was not run this time (`BENCH_SPDK` unset); its figures are "
              "those SPDK v26.05 vhost-scsi (1 GiB Malloc bdev, busy-polling one core) gave on a machine of this "
              "kind on 2026-12-01 with the same engine, pinning and block size (20 s x 2 rounds; issue 14), "
              "when our ram LUN did what the column \"ours that day\" says in the same run. Ours is the ram LUN, "
              "1 queue, 1 thread, default polling, from this run. Machines of this kind differ, and one machine "
              "drifts: the last column is this run's machine against that day's, for our own daemon. SPDK's copy "
              "is as memory-bound as ours, so where that column is well below 1 the ratio to SPDK likely "
              "understates ours; the verdicts below are taken as measured all the same.")
            w("")
            w("| rw | QD | ours IOPS | SPDK IOPS | ratio | ours CPU us/IO | SPDK CPU us/IO | CPU ratio | "
              "ours that day | this run / that day |")
            w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for (rw, qd), (siops, scpu) in SPDK_BAR.items():
                rs = get(ours1, rw, qd)
                if not rs:
                    continue
                io, cpu = mean(rs, "iops"), mean(rs, "cpu_us_per_io")
                day = SPDK_DAY_OURS[(rw, qd)]
                w(f"| {rw} | {qd} | {fmt_iops(io)} | {fmt_iops(siops)} | {io / siops:.2f}x | {cpu:.2f} | "
                  f"{scpu:.2f} | {cpu / scpu:.2f} | {fmt_iops(day)} | {io / day:.2f}x |")
                spdk_rows.append(f"| IOPS >= {SPDK_IOPS_TARGET}x SPDK's, ram 1q/1t, {rw} QD{qd} | "
                                 f"{io / siops:.2f}x ({fmt_iops(io)}) | {verdict(io / siops, SPDK_IOPS_TARGET)} |")
                spdk_rows.append(f"| CPU per I/O below SPDK's, ram 1q/1t, {rw} QD{qd} | {cpu / scpu:.2f}x "
                                 f"({cpu:.2f} us) | {verdict(cpu / scpu, 1.0, higher_is_better=False)} |")
            w("")

    polling_rows = []
    for rw in rws:
        for qd in qds:
            a, b = get(ours1, rw, qd), get(("ours-irq", "ram", 1, 1), rw, qd)
            if a and b:
                r = mean(a, "iops") / mean(b, "iops")
                # The two were measured back to back in each run (bench/run.sh): each run's own ratio.
                pairs = run_ratios(a, b)
                runs = ", ".join(f"{p:.2f}" for p in pairs)
                polling_rows.append(f"| polling never slower than interrupt mode, ram 1q/1t, {rw} QD{qd} | "
                                    f"{r:.2f}x (runs: {runs}) | {verdict(r, 1.0)} |")

    large, lfloor = load_large(results)
    large_rows = []
    if large:
        lm = read_env(os.path.join(results, "large.env"))
        w("## Large sequential I/O against the copy floor")
        w("")
        w(f"`bench/large.sh`: the ram LUN (1 queue, 1 thread, default polling, daemon on CPU 0, fio on CPU 1), "
          f"sequential reads and writes at QD {lm.get('qd', '?')}, {lm.get('runtime', '?')} s per point, "
          f"{lm.get('runs', '?')} run(s), tree at {lm.get('commit', '?')}. Against it, the copy alone: "
          f"`bench/copy_floor --seq BS {lm.get('qd', '?')} SIZE_MIB` copies BS bytes at consecutive offsets "
          f"between a disk-sized huge-page mapping and {lm.get('qd', '?')} buffers of a shared memfd (as guest "
          f"memory is), on CPU 0, before each run's points. A point's CPU per MiB is the daemon's utime+stime "
          f"over the MiB fio moved.")
        w("")
        w("The floor is the copy the daemon does: memcpy for reads; for writes to a disk of 64 MiB or more, "
          "the non-temporal stores of `util/copy_nt.c` (no read of the destination lines, nothing left in the "
          "cache), about half of memcpy's cost here, which the last column shows.")
        w("")
        w("| rw | bs | MiB/s | daemon CPU us/MiB | copy floor us/MiB | ratio | memcpy us/MiB |")
        w("|---|---|---:|---:|---:|---:|---:|")
        lun_bytes = size_bytes(lm.get("lun_size", "1G"))
        for (rw, bs), rs in sorted(large.items(), key=lambda kv: (kv[0][0], bs_bytes(kv[0][1]))):
            cpu = mean(rs, "cpu_us_per_mib")
            fl = lfloor.get((rw, bs, daemon_copy(rw, lun_bytes)))
            mc = lfloor.get((rw, bs, "memcpy"))
            ratio = cpu / fl if fl else None
            w(f"| {rw} | {bs} | {mean(rs, 'mib_s'):.0f} | {cpu:.1f} | {f'{fl:.1f}' if fl else '-'} | "
              f"{f'{ratio:.2f}x' if ratio else '-'} | {f'{mc:.1f}' if mc else '-'} |")
            if ratio:
                large_rows.append(f"| ram within {100 * (LARGE_FLOOR_TARGET - 1):.0f}% of the copy floor, {rw} "
                                  f"{bs} QD{lm.get('qd', '?')} (CPU per MiB) | {ratio:.2f}x | "
                                  f"{verdict(ratio, LARGE_FLOOR_TARGET, higher_is_better=False)} |")
        w("")

    w("![IOPS by queue depth](" + os.path.splitext(os.path.basename(doc))[0] + ".png)")
    w("")

    w("## Targets")
    w("")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    for rw in rws:
        a, b = get(ours1, rw, 32), get(null1, rw, 32)
        if a and b:
            r = mean(a, "iops") / mean(b, "iops")
            w(f"| ram >= 0.8x null, {rw} QD32, 1q/1t | {r:.2f}x | {verdict(r, 0.8)} |")
    for row in spdk_rows + polling_rows + large_rows:
        w(row)
    for (rw, bs), by_t in sorted(scaling.items()):
        if 1 in by_t and 2 in by_t:
            r = mean(by_t[2], "iops") / mean(by_t[1], "iops")
            w(f"| 2 threads >= 1.8x 1 thread (2 queues, ram), {rw} {bs} QD32, daemon-bound (`bench/scaling.sh`) "
              f"| {r:.2f}x | {verdict(r, 1.8)} |")
    rss = [v for k, v in rows.items() if k[0] == "ours-rss"]
    if rss:
        rs = rss[0]
        kb = mean(rs, "rss_kb")
        w(f"| RSS <= 16 MiB, 1 controller, 4 queues (null LUN, QD32 each, guest memory excluded) | "
          f"{kb / 1024:.1f} MiB (guest memory left out: {mean(rs, 'guest_kb'):.0f} KiB resident) | "
          f"{verdict(kb, RSS_TARGET_KB, higher_is_better=False)} |")
    per_req = None
    if "after_setup" in mall:
        setup = [int(x) for x in mall["after_setup"].split()]
        short = [int(x) for x in mall[f"after_{mall['ios_short']}"].split()]
        long_ = [int(x) for x in mall[f"after_{mall['ios_long']}"].split()]
        per = int(mall.get("requests_per_io_count", "1"))
        d_short = [s - a for s, a in zip(short, setup)]
        d_long = [b - s for b, s in zip(long_, short)]
        reqs = per * (int(mall["ios_long"]) - int(mall["ios_short"]))
        allocs = sum(d_long[:4]) - sum(d_short[:4])
        per_req = allocs / reqs
        w(f"| zero malloc per request | {allocs} extra allocation calls for {reqs} extra requests "
          f"({per_req:.6f} per request) | {'met' if allocs <= 0 else '**missed**'} |")
    w("")

    # What limits a missed target, from the same data.
    notes = []
    rt = float(meta.get("runtime", "1") or 1)
    for rw in rws:
        a, b = get(ours1, rw, 32), get(null1, rw, 32)
        if a and b and mean(a, "iops") / mean(b, "iops") < 0.8:
            fl = ""
            if floor:
                fl = (f" `bench/copy_floor` measures that copy alone, outside the daemon, on this machine: "
                      f"{floor.get('thp', 0):.0f} ns with transparent huge pages (as the ram backend maps "
                      f"its disk), {floor.get('4k', 0):.0f} ns with 4 KiB pages, i.e. "
                      f"{100 * floor.get('thp', 0) / 1000 / mean(b, 'cpu_us_per_io'):.0f}% of the null "
                      f"LUN's whole per-I/O cost. A ram LUN at 0.8x the null LUN's IOPS would need the copy "
                      f"to cost at most a quarter of that per-I/O cost.")
            notes.append(
                f"ram vs null, {rw} QD32 1q/1t: the ram LUN costs {mean(a, 'cpu_us_per_io'):.2f} us of "
                f"daemon CPU per I/O against {mean(b, 'cpu_us_per_io'):.2f} for null (the 4 KiB copy "
                f"between guest memory and a {meta.get('lun_size')} RAM disk at random offsets: the data "
                f"comes from DRAM, far bigger than any cache); the daemon used {mean(a, 'cpu_s') / rt:.2f} "
                f"CPUs during the ram run and {mean(b, 'cpu_s') / rt:.2f} during the null run, "
                + ("with fio on a CPU of its own." if meta.get("pinned") == "1" else
                   f"with fio on the same {meta.get('cpus')} CPUs.") + fl)
    for (rw, bs), by_t in sorted(scaling.items()):
        if 1 in by_t and 2 in by_t and mean(by_t[2], "iops") / mean(by_t[1], "iops") < 1.8:
            c1, c2 = mean(by_t[1], "cpu_s") / rt, mean(by_t[2], "cpu_s") / rt
            eff = mean(by_t[1], "cpu_us_per_io") / mean(by_t[2], "cpu_us_per_io")
            why = ("the threads lose nothing to each other; the shortfall is CPU time the machine does not have"
                   if eff >= 0.95 else
                   f"{100 * (1 - eff):.0f}% is lost to what the two cores share ({mean(by_t[2], 'mib_s'):.0f} "
                   f"MiB/s of copies through one memory system); the rest of the shortfall is CPU time the machine "
                   f"does not have")
            notes.append(
                f"2 vs 1 thread, {rw} {bs} (daemon-bound): 2 threads used {c2:.2f} CPUs against {c1:.2f} for one, "
                f"of the machine's {meta.get('cpus')}, with fio's 2 threads needing the rest; per I/O they spent "
                f"{mean(by_t[2], 'cpu_us_per_io'):.2f} us against {mean(by_t[1], 'cpu_us_per_io'):.2f}, i.e. IOPS "
                f"per daemon CPU at {100 * eff:.0f}% of one thread's: {why}.")
    if notes:
        w("### What limits the missed targets")
        w("")
        for n in notes:
            w(f"- {n}")
        w("")

    if per_req is not None:
        w("### How the malloc count was taken")
        w("")
        w("`bench/malloc_count.c` is an `LD_PRELOAD` library that counts calls to malloc, calloc, realloc, "
          "memalign/aligned_alloc/posix_memalign and free, calling glibc's `__libc_*` functions underneath; the "
          "counters sit in a shared file mapping the script reads while the daemon runs. The daemon (ram LUN, "
          "2 threads) serves a short and a long fio session (2 queues, QD32, randread then randwrite, "
          f"`--number_ios` {mall['ios_short']} and {mall['ios_long']} per job); each session pays the same "
          "connection set-up, so the difference between the two sessions' counts divided by the difference "
          "in requests is the per-request cost. The counter itself is checked by `make bench-test` "
          "(`bench/test_malloc_count.c`: every entry point counted once, nothing counted without an allocation). "
          "Counts (malloc calloc realloc memalign free):")
        w("")
        w(f"- after start-up and prefill: `{mall['after_setup']}`")
        w(f"- short session ({per * int(mall['ios_short'])} requests): +`{' '.join(map(str, d_short))}`")
        w(f"- long session ({per * int(mall['ios_long'])} requests): +`{' '.join(map(str, d_long))}`")
        w("")

    w("## In a TCG guest")
    w("")
    gpath = os.path.join(results, "guest.csv")
    if os.path.exists(gpath):
        g = defaultdict(list)
        with open(gpath) as f:
            for r in csv.DictReader(f):
                g[(r["backend"], int(r["qd"]))].append(r)
        names = {"ours": "ours, ram LUN (vhost-user-scsi-pci)",
                 "ours-irq": "ours, the same with --poll-us 0",
                 "qemu-scsi": "QEMU virtio-scsi-pci + scsi-hd, iothread",
                 "qsd-blk": "qemu-storage-daemon vhost-user-blk"}
        w(f"`bench/guest.sh`: the test guest of `scripts/guest/` (Debian 6.1 kernel, 1 vCPU, TCG, 512 MiB memfd "
          f"RAM) runs `fio --ioengine=libaio --direct=1 --rw=randread --bs=4k` for "
          f"{meta.get('guest_runtime', '?')} s on the disk of one backend per boot; all three serve a "
          f"RAM-backed disk (our ram LUN; a raw file in /dev/shm with aio=io_uring for QEMU and "
          f"qemu-storage-daemon). Backend CPU: the daemon's or qemu-storage-daemon's process; for QEMU's "
          f"built-in device only its iothread and thread-pool workers (the rest of the process runs the "
          f"guest). The host reads it when the guest prints a marker just before fio starts and again when "
          f"the result line appears (serial log polled every 50 ms), and divides by fio's I/Os: boot, LUN "
          f"probing and shutdown are left out. Under TCG the guest itself is the bottleneck; the "
          f"interesting column is the backend's CPU per I/O. {guest_pinning(results)}")
        w("")
        w("| backend | QD | IOPS | mean lat (us) | backend CPU us/IO |")
        w("|---|---:|---:|---:|---:|")
        gqds = sorted({k[1] for k in g})
        for qd in gqds:
            for be in ("ours", "ours-irq", "qemu-scsi", "qsd-blk"):
                rs = g.get((be, qd))
                if rs:
                    w(f"| {names[be]} | {qd} | {fmt_iops(mean(rs, 'iops'))} | {mean(rs, 'lat_mean_us'):.0f} | "
                      f"{mean(rs, 'cpu_us_per_io'):.1f} |")
        w("")
        against = {"ours-irq": "itself in interrupt mode (--poll-us 0)"}
        for qd in gqds:
            o = g.get(("ours", qd))
            if not o:
                continue
            parts = []
            for be in ("ours-irq", "qemu-scsi", "qsd-blk"):
                rs = g.get((be, qd))
                if rs:
                    parts.append(f"{mean(o, 'iops') / mean(rs, 'iops'):.2f}x the IOPS and "
                                 f"{mean(o, 'cpu_us_per_io') / mean(rs, 'cpu_us_per_io'):.2f}x the CPU per I/O "
                                 f"of {against.get(be, be)}" if mean(rs, 'cpu_us_per_io')
                                 else f"{be}: no CPU figure")
            w(f"- QD{qd}: ours has " + "; ".join(parts) + ".")
        w("")
    else:
        w("Not run (BENCH_GUEST=0).")
        w("")

    w("## How contrib/vhost-user-scsi is built and served")
    w("")
    w("`bench/contrib.sh` takes `contrib/vhost-user-scsi/` and `subprojects/libvhost-user/` (plus the "
      "`include/qemu/{atomic,compiler}.h` and standard-headers they symlink to) from the same pinned, "
      "sha256-checked QEMU **10.2.2** tarball that `scripts/qemu/fetch-qemu.sh` downloads, extracts them into "
      "`build/bench/contrib/` (the QEMU build tree of `scripts/qemu/` is not touched) and compiles them with "
      "gcc, without meson: a 15-line stand-in for `qemu/osdep.h` supplies libc, GLib and `qemu/compiler.h`. "
      "Two one-line build-side changes, both needed for the sample to serve anything here:")
    w("")
    w("1. It sends every command to iSCSI LUN 0, which tgt reserves for its controller device (LUN 0 can be "
      "neither deleted nor replaced); the data LUN is 1, so the call uses a build-time constant 1.")
    w("2. It completes every request with a used length of 0, which the virtio spec does not allow for a "
      "request whose response was written and which our engine treats as a failure (Linux's virtio-scsi "
      "driver happens to ignore it); it now reports the device-writable length.")
    w("")
    w("Neither changes how the sample works: one thread, a GLib main loop, and one synchronous iSCSI round "
      "trip per command, so its throughput does not grow with QD.")
    w("")

    w("## Exact commands")
    w("")
    w("`make bench` runs `bench/contrib.sh`, then `bench/run.sh` (30 s x 2); `make bench-quick` runs "
      "`BENCH_RUNTIME=3 BENCH_RUNS=1 BENCH_LUN_SIZE=256M BENCH_GUEST_RUNTIME=5 BENCH_LABEL=quick bench/run.sh`; "
      "`bench/run.sh` ends with `bench/scaling.sh` (unless `BENCH_SCALING=0`), `bench/large.sh` (unless "
      "`BENCH_LARGE=0`), `bench/guest.sh` (unless `BENCH_GUEST=0`) and `bench/report.py`. Every daemon, tgtadm and "
      "fio command of this run is in `build/bench/results/commands.log`; one of each kind:")
    w("")
    if meta.get("spdk"):
        w("SPDK took part because `BENCH_SPDK` named a tree with its `vhost` application built (SPDK is neither "
          "packaged by Debian nor part of this project: its public repository at the tag above, configured "
          "`--with-dpdk` against Debian's `dpdk-dev`, the components a vhost-scsi target does not need turned off "
          "(`--disable-tests --disable-unit-tests --disable-examples --without-crypto --without-fio "
          "--without-vfio-user --without-fsdev --without-nvme-cuse --without-uring --without-idxd --without-rdma "
          "--without-xnvme --without-ocf --without-virtio --without-golang`); the local changes counted above only "
          "let it build without its git submodules against DPDK 22.11: no ISA-L, no bundled intel-ipsec-mb, no "
          "rte_log/rte_argparse libraries, DPDK 22.11.11 accepted). bench/run.sh reserves the 2 MiB huge pages it "
          "needs and gives them back.")
        w("")
    w("```")
    seen = set()
    with open(os.path.join(results, "commands.log")) as f:
        for line in f:
            line = line.strip()
            words = line.split()
            if not words:
                continue
            # The pinning and the time limit are prefixes; the kind is what they run.
            while words[0] in ("taskset", "timeout") and len(words) > 2:
                words = words[3:] if words[0] == "taskset" else words[2:]
            kind = os.path.basename(words[0])
            if kind == "fio":
                kind = "fio " + ("large" if "--name=large" in line else "")
            elif kind == "env":
                kind = "env-daemon"
            elif kind == "vhost-user-scsi":
                kind = "contrib" if "/contrib/" in words[0] else "daemon"
            elif kind.startswith("qemu-system"):
                # One command per kind of disk: keyed by the last -device.
                devs = [words[i + 1] for i in range(len(words) - 1) if words[i] == "-device"]
                kind = "qemu " + (devs[-1].split(",")[0] if devs else "")
            elif kind == "tgtadm":
                kind = "tgtadm " + " ".join(words[5:9])
            elif kind.startswith("python3") and len(words) > 4 and words[1].endswith("rpc.py"):
                kind = "spdk rpc " + words[4]
            if kind in seen:
                continue
            seen.add(kind)
            # printf %q escapes commas, which the shell does not need.
            w(line.replace("\\,", ","))
    w("```")
    w("")

    with open(doc, "w") as f:
        f.write("\n".join(out))

    # Plot data: one file per rw, a row per QD, a column per configuration.
    png = os.path.splitext(doc)[0] + ".png"
    dats = []
    for rw in rws:
        path = os.path.join(results, f"{rw}.dat")
        with open(path, "w") as f:
            f.write("qd " + " ".join('"' + cfg_name(*c) + '"' for c in configs) + "\n")
            for qd in qds:
                vals = []
                for c in configs:
                    rs = get(c, rw, qd)
                    vals.append(f"{mean(rs, 'iops'):.0f}" if rs else "NaN")
                f.write(f"{qd} " + " ".join(vals) + "\n")
        dats.append(path)
    plot = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plot.gp")
    subprocess.run(["gnuplot", "-e", f"readdat='{dats[0]}'; writedat='{dats[-1]}'; "
                    f"ncols={len(configs)}; out='{png}'; title_tag='{label}'", plot], check=True)


if __name__ == "__main__":
    main()
