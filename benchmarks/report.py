"""Tables, target checks, the plot and the docs update of a benchmark run (see benchmarks/__main__.py)."""
from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

from .workloads import IMPLS

VG, REC, EAGER = "jg value_and_grad", "jg compile", "jg eager"
TORCH_COMPILED = ("torch.compile", "torch.compile(func)")
SCALE = {"ms": 1e3, "us": 1e6}
NUMPY_W5_REFERENCE = 4.9e-6   # numpy's W5 step where the targets were set: W5's eager target is absolute


def environment_notes(env: dict, impls) -> list[str]:
    notes = []
    core = env.get("env", {}).get("OPENBLAS_CORETYPE")
    if core:
        notes.append(f"OPENBLAS_CORETYPE={core} is set: numpy's BLAS (W3, W4) runs that core's kernels, "
                     "not the best ones for this CPU; for a fair numpy baseline run "
                     "`env -u OPENBLAS_CORETYPE python -m benchmarks`")
    for mod, names in (("torch", ("torch eager",) + TORCH_COMPILED), ("jax", ("jax.jit",))):
        if mod not in env and any(n in impls for n in names):
            notes.append(f"{mod} is not installed: {', '.join(n for n in names if n in impls)} skipped "
                         "(pip install '.[bench]')")
    if "matplotlib" not in env:
        notes.append("matplotlib is not installed: no plot")
    return notes


# ---- numbers ------------------------------------------------------------------------------------

def med(case: dict, impl: str):
    rec = case.get("impls", {}).get(impl)
    return rec["median_s"] if rec and "median_s" in rec else None


def fmt_time(t, unit: str) -> str:
    if t is None:
        return "-"
    v = t * SCALE[unit]
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def speedup(case, impl):
    a, b = med(case, "numpy"), med(case, impl)
    return a / b if a and b else None


def case_line(case: dict) -> str:
    unit = case["unit"]
    parts = [f"{name} {fmt_time(med(case, name), unit)} {unit}"
             + (f" ({speedup(case, name):.2f}x)" if name != "numpy" else "")
             for name in case["impls"]]
    floor = case.get("floor_s")
    if floor:
        parts.append(f"memory floor {fmt_time(floor, unit)} {unit}")
    return "  " + " | ".join(parts)


def _find(run, workload, size=None):
    for c in run["cases"]:
        if c.get("workload") == workload and (size is None or c.get("size") == size) and "impls" in c:
            return c
    return None


def _best(case, names):
    got = [(med(case, n), n) for n in names if med(case, n) is not None]
    return min(got) if got else (None, None)


def targets(run: dict) -> list[dict]:
    """Each target: text, measured (a sentence with the numbers), status 'met' | 'NOT met' | 'n/a'."""
    out = []

    def add(text, ok, measured):
        out.append({"target": text, "status": "n/a" if ok is None else ("met" if ok else "NOT met"),
                    "measured": measured})

    def ratio_target(case, label, impl, other_names, factor, what):
        if case is None:
            return add(label, None, "not run")
        t, (to, oname) = med(case, impl), _best(case, other_names)
        if t is None or to is None:
            return add(label, None, f"{what} not measured" if t is not None else f"{impl} not measured")
        unit = case["unit"]
        add(label, to / t >= factor, f"{impl} {fmt_time(t, unit)} {unit} vs {oname} "
            f"{fmt_time(to, unit)} {unit}: {to / t:.2f}x faster (need {factor:g}x)")

    for n in (10 ** 6, 10 ** 7):
        c = _find(run, "W1", n)
        tag = f"W1 N=1e{len(str(n)) - 1}"
        ratio_target(c, f"{tag}: value_and_grad >= 4x faster than numpy", VG, ["numpy"], 4, "numpy")
        ratio_target(c, f"{tag}: value_and_grad >= 1.5x faster than torch.compile (best API)", VG,
                     TORCH_COMPILED, 1.5, "torch.compile")
        ratio_target(c, f"{tag}: value_and_grad >= 1.5x faster than jax.jit", VG, ["jax.jit"], 1.5,
                     "jax.jit")
        ratio_target(c, f"{tag}: record/backward (compiled) >= 3x faster than numpy", REC, ["numpy"], 3,
                     "numpy")
    c = _find(run, "W1", 10 ** 7)
    if c and med(c, VG) and c.get("floor_s"):
        r = med(c, VG) / c["floor_s"]
        add("W1 N=1e7: value_and_grad within 1.3x of the memory floor", r <= 1.3,
            f"{fmt_time(med(c, VG), 'ms')} ms vs floor {fmt_time(c['floor_s'], 'ms')} ms: {r:.2f}x the floor")
    else:
        add("W1 N=1e7: value_and_grad within 1.3x of the memory floor", None,
            "not run" if c is None else "not measured")
    for wl, factor in (("W2", 3), ("W6", 5)):
        c = _find(run, wl)
        ratio_target(c, f"{wl}: value_and_grad >= {factor}x faster than numpy", VG, ["numpy"], factor,
                     "numpy")
        ratio_target(c, f"{wl}: value_and_grad faster than torch.compile (best API)", VG, TORCH_COMPILED,
                     1.0, "torch.compile")
    for wl in ("W3", "W4"):
        c = _find(run, wl)
        label = f"{wl}: value_and_grad no more than 10% slower than the faster of numpy and jax.jit"
        if c is None or med(c, VG) is None:
            add(label, None, "not run" if c is None else "not measured")
            continue
        to, oname = _best(c, ["numpy", "jax.jit"])
        t = med(c, VG)
        note = "" if med(c, "jax.jit") is not None else " (jax.jit not measured)"
        add(label, t <= 1.1 * to, f"{fmt_time(t, 'ms')} ms vs {oname} {fmt_time(to, 'ms')} ms: "
            f"{t / to:.2f}x its time (need <= 1.10){note}")
    c = _find(run, "W5")
    if c and med(c, VG) is not None:
        t, tn, tj = med(c, VG), med(c, "numpy"), med(c, "jax.jit")
        ok = t <= tn and (tj is None or t < tj)
        add("W5: a cached compiled call <= numpy's time and < jax.jit's", None if tj is None and ok else ok,
            f"value_and_grad {t * 1e6:.1f} us, record/backward "
            f"{fmt_time(med(c, REC), 'us')} us; numpy {tn * 1e6:.1f} us; jax.jit "
            + (f"{tj * 1e6:.1f} us" if tj else "not measured"))
    else:
        add("W5: a cached compiled call <= numpy's time and < jax.jit's", None, "not run")
    eager = c["impls"].get("jg eager") if c else None
    label = "W5: eager <= 3 us per op (a step's forward and backward ops, the engine's work included)"
    if eager and eager.get("ops_per_call"):
        per_op = eager["median_s"] / eager["ops_per_call"]
        tn = med(c, "numpy")   # the target is absolute: the host's speed beside it
        host = f" (numpy's step here {tn * 1e6:.1f} us, {NUMPY_W5_REFERENCE * 1e6:.1f} us on the " \
            "host the targets were set on)" if tn else ""
        add(label, per_op <= 3e-6, f"jg eager {eager['median_s'] * 1e6:.1f} us for "
            f"{eager['ops_per_call']} ops: {per_op * 1e6:.2f} us per op{host}")
    else:
        add(label, None, "not run" if c is None else "not measured")
    for n in (10 ** 3, 10 ** 5):
        c = _find(run, "W1", n)
        label = f"W1 N=1e{len(str(n)) - 1}: compiled jitgrad never slower than numpy"
        if c is None or med(c, VG) is None:
            add(label, None, "not run" if c is None else "not measured")
            continue
        tn = med(c, "numpy")
        slow = [f"{i} {fmt_time(med(c, i), 'us')} us" for i in (VG, REC) if med(c, i) is not None]
        ok = all(med(c, i) <= tn for i in (VG, REC) if med(c, i) is not None)
        add(label, ok, ", ".join(slow) + f" vs numpy {fmt_time(tn, 'us')} us")
    return out


# ---- Markdown -----------------------------------------------------------------------------------

def markdown(run: dict) -> str:
    env = run["environment"]
    lines = [f"Run {run['timestamp']}" + (" (--quick)" if run.get("quick") else "")
             + f", git {env.get('git', '?')}" + (" + uncommitted jitgrad/ changes" if env.get("git_dirty_jitgrad") else "")
             + f": {env['cpu']}, {env['cpus']} cpus; python {env['python']}, numpy {env['numpy']}"
             + (f" ({env['blas']})" if env.get("blas") else "") + f", numba {env['numba']}"
             + "".join(f", {m} {env[m]}" for m in ("torch", "jax") if m in env)
             + f". {run['rounds']} interleaved rounds, samples of >= {run['sample_s'] * 1e3:g} ms"
             + (f" each after {run['gap_s'] * 1e3:g} ms idle" if run.get("gap_s") else "")
             + (f" and {run['warm_s'] * 1e3:g} ms of untimed calls" if run.get("warm_s") else "") + "; "
             f"copy bandwidth {run['bandwidth_Bps'] / 1e9:.1f} GB/s."]
    if env.get("env"):
        lines[0] += " Environment: " + ", ".join(f"`{k}={v}`" for k, v in sorted(env["env"].items())) + "."
    lines.append("")
    cases = [c for c in run["cases"] if "impls" in c]
    names = [n for n in IMPLS if any(n in c["impls"] for c in cases)]
    lines.append("Median time per value+gradient evaluation (speedup over numpy in parentheses; "
                 "W5 in microseconds, the rest in milliseconds):")
    lines.append("")
    lines.append("| workload | " + " | ".join(names) + " | memory floor |")
    lines.append("|---" * (len(names) + 2) + "|")
    for c in cases:
        unit = c["unit"]
        cells = []
        for n in names:
            t = med(c, n)
            s = speedup(c, n)
            cells.append("-" if t is None else fmt_time(t, unit) + ("" if n == "numpy" or s is None
                                                                      else f" ({s:.2f}x)"))
        floor = fmt_time(c["floor_s"], unit) if c.get("floor_s") else ""
        lines.append(f"| {c['workload']} {c['describe']} ({unit}) | " + " | ".join(cells) + f" | {floor} |")
    skipped = sorted({f"{n}: {why}" for c in cases for n, why in c.get("skipped", {}).items()})
    if skipped:
        lines += ["", "Skipped: " + "; ".join(skipped) + "."]
    bad = [c for c in run["cases"] if "impls" not in c]
    for c in bad:
        lines += ["", f"**{c.get('workload')} {c.get('size')} FAILED**: "
                  + c.get("mismatch", c.get("error", "?"))]
    lines += ["", "Targets:", "", "| target | status | measured |", "|---|---|---|"]
    for t in targets(run):
        if t["measured"] == "not run":
            continue
        lines.append(f"| {t['target']} | {t['status']} | {t['measured']} |")
    lines += ["", "Details: median and min over rounds; first 3 calls (trace/compile) in seconds, and "
              "their excess over 3 steady calls; peak memory of one call as RSS growth (all "
              "allocators) and as tracemalloc peak (numpy/Python allocations only).", ""]
    for c in cases:
        unit = c["unit"]
        floor = c.get("floor_s")
        lines.append(f"**{c['workload']}** {c['describe']}: {c['title']}"
                     + (f"; memory floor {fmt_time(floor, unit)} {unit} ({c['bytes'] / 1e6:.1f} MB "
                        "read/written once)" if floor else "")
                     + f"; load average before: {c.get('loadavg_before', 0):.2f}")
        lines.append("")
        lines.append(f"| implementation | median ({unit}) | min ({unit}) | vs numpy |"
                     + (" x floor |" if floor else "")
                     + " first calls (s) | warm-up excess (s) | peak RSS (MB) | tracemalloc (MB) |")
        lines.append("|---" * (8 + bool(floor)) + "|")
        for n, r in c["impls"].items():
            s = speedup(c, n)
            lines.append(f"| {n} | {fmt_time(r['median_s'], unit)} | {fmt_time(r['min_s'], unit)} | "
                         + ("1" if n == "numpy" else f"{s:.2f}x") + " | "
                         + (f"{r['median_s'] / floor:.2f} | " if floor else "")
                         + " + ".join(f"{x:.3g}" for x in r["first_calls_s"])
                         + f" | {r['warmup_excess_s']:.3g} | " + _mb(r.get("rss_peak_delta")) + " | "
                         + _mb(r.get("tracemalloc_peak")) + " |")
        lines.append("")
    return "\n".join(lines)


def _mb(b) -> str:
    return "-" if b is None else f"{b / 1e6:.1f}"


# ---- plot ---------------------------------------------------------------------------------------

def plot(run: dict, path: Path) -> str | None:
    """Write the PNG; return a note instead if matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        return "matplotlib is not installed: plot skipped (pip install '.[bench]')"
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    cases = [c for c in run["cases"] if "impls" in c]
    names = [n for n in IMPLS if any(n in c["impls"] for c in cases)]
    colors = {n: plt.get_cmap("tab10")(i) for i, n in enumerate(IMPLS)}
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    ax = axes[0, 0]
    w1 = sorted((c for c in cases if c["workload"] == "W1"), key=lambda c: c["size"])
    for n in names:
        pts = [(c["size"], med(c, n) * 1e3) for c in w1 if med(c, n) is not None]
        if pts:
            ax.plot(*zip(*pts), "o-", label=n, color=colors[n])
    fl = [(c["size"], c["floor_s"] * 1e3) for c in w1 if c.get("floor_s")]
    if fl:
        ax.plot(*zip(*fl), "k--", label="memory floor")
    ax.set(xscale="log", yscale="log", xlabel="N", ylabel="ms per value+grad",
           title="W1 sum((tanh(x*w+b)-y)**2)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    for ax, wl in zip(axes.flat[1:], ("W2", "W3", "W4", "W5", "W6")):
        c = next((c for c in cases if c["workload"] == wl), None)
        if c is None:
            ax.set_visible(False)
            continue
        unit = c["unit"]
        got = [(n, med(c, n) * SCALE[unit]) for n in names if med(c, n) is not None]
        ax.barh([g[0] for g in got], [g[1] for g in got], color=[colors[g[0]] for g in got])
        for i, (_, v) in enumerate(got):
            ax.text(v, i, f" {v:.3g}", va="center", fontsize=7)
        if c.get("floor_s"):
            ax.axvline(c["floor_s"] * SCALE[unit], color="k", ls="--", lw=1, label="memory floor")
            ax.legend(fontsize=7)
        ax.set(xscale="log", xlabel=f"{unit} per value+grad (log)", title=f"{wl} {c['describe']}: {c['title']}")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=8)
        ax.title.set_fontsize(9)
    fig.suptitle(f"jitgrad benchmarks {run['timestamp']} (median of {run['rounds']} rounds; lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


# ---- docs ---------------------------------------------------------------------------------------

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def update_docs(run: dict, md: str, png: Path, docs: Path) -> None:
    """Replace the generated block of docs/performance.md and copy the plot to docs/performance.png."""
    page = docs / "performance.md"
    text = page.read_text() if page.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    block = f"{BEGIN}\n{md}\n{END}"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text += "\n" + block + "\n"
    page.write_text(text)
    if png.exists():
        shutil.copyfile(png, docs / "performance.png")
